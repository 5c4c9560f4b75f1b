// The commander definition of every command and option. Actions lazy-load their implementation so that
// `vmig --help` and `vmig --version` never load ssh2, ora or zod. Tests read this definition to keep the
// man page and the completion scripts in step with it.
import { Command, Option } from 'commander';
import type { GlobalOptions } from './output.js';

export type Action = (globals: GlobalOptions, args: string[], options: Record<string, unknown>) => Promise<void>;

const lazy =
  (load: () => Promise<{ default: Action }>) =>
  async (...received: unknown[]) => {
    const command = received.at(-1) as Command;
    const args = received.slice(0, -2).map(String);
    const { default: action } = await load();
    await action(command.optsWithGlobals() as GlobalOptions, args, command.opts());
  };

export function buildProgram(version: string): Command {
  const program = new Command('vmig')
    .description('Live-migrate QEMU virtual machines between hosts, securely.')
    .version(version, '-V, --version', 'print the vmig version')
    .option('-c, --connect <uri>', 'host to act on: local, ssh://[user@]host[:port] or a host from ~/.ssh/config', process.env.VMIG_DEFAULT_CONNECT ?? 'local')
    .option('--json', 'machine-readable output on stdout', false)
    .option('-q, --quiet', 'print only results and errors', false)
    .option('-v, --verbose', 'print phase timings, QEMU parameters and agent logs', false)
    .option('--no-color', 'never colour the output (also NO_COLOR=1)')
    .option('--debug', 'print stack traces of internal errors', false)
    .option('--accept-new-host-key', "record an unknown host's SSH key in known_hosts (a changed key is still refused)", false)
    .showSuggestionAfterError(true)
    // Set before the subcommands are added, so that they inherit it: only main.ts decides how to exit.
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ vmig -c ssh://hv1 list --all
  $ vmig -c hv1 define web1.json && vmig -c hv1 start web1
  $ vmig -c hv1 migrate web1 ssh://hv2 --direct
  $ vmig -c hv1 migrate web1 hv2 --direct --persistent --undefinesource --json

Exit codes: 0 ok, 1 migration failed (guest still on the source), 2 bad usage or input,
3 cannot connect or authenticate, 4 needs recovery (the message says how), 5 locked by another job.`,
    );

  program
    .command('define')
    .description('define (or update) a domain from a JSON file')
    .argument('<file>', 'domain definition (JSON)')
    .action(lazy(() => import('./commands/define.js')));

  program
    .command('undefine')
    .description('remove the persistent definition of a domain (a running guest keeps running)')
    .argument('<name>', 'domain name')
    .action(lazy(() => import('./commands/undefine.js')));

  program
    .command('start')
    .description('start a defined domain')
    .argument('<name>', 'domain name')
    .option('--paused', 'start with the vCPUs stopped', false)
    .action(lazy(() => import('./commands/start.js')));

  program
    .command('destroy')
    .description('stop a running domain at once (like pulling the plug)')
    .argument('<name>', 'domain name')
    .action(lazy(() => import('./commands/destroy.js')));

  program
    .command('list')
    .description('list running domains (with --all, defined ones too)')
    .option('--all', 'include defined domains that are shut off', false)
    .action(lazy(() => import('./commands/list.js')));

  program
    .command('dominfo')
    .description('show a domain: uuid, state, memory, vcpus, QEMU pid')
    .argument('<name>', 'domain name')
    .action(lazy(() => import('./commands/dominfo.js')));

  program
    .command('qemu-monitor-command')
    .description("send one QMP command to the domain's QEMU and print its reply")
    .argument('<name>', 'domain name')
    .argument('<command>', 'QMP command as JSON, e.g. \'{"execute":"query-status"}\'')
    .option('--pretty', 'indent the JSON reply', false)
    .action(lazy(() => import('./commands/monitor.js')));

  program
    .command('migrate')
    .description('live-migrate a running domain from the --connect host to DEST')
    .argument('<name>', 'domain name')
    .argument('<dest>', 'destination host URI')
    .addOption(new Option('--direct', 'QEMU to QEMU over plain TCP: fast but unencrypted and unauthenticated').default(false))
    .option('--persistent', 'define the domain on the destination', false)
    .option('--undefinesource', 'remove the definition from the source after success', false)
    .option('--suspend', 'leave the guest paused on the destination', false)
    .option('--bandwidth <MiBs>', 'cap the stream at this many MiB/s (default: no cap)', '0')
    .option('--max-downtime <ms>', 'the longest pause the guest may see at switch-over')
    .option('--listen-address <addr>', 'address the destination listens on and advertises to the source')
    .option('--port-range <from-to>', 'migration ports on the destination (default 49152-49215)')
    .addHelpText(
      'after',
      `
Examples:
  $ vmig -c hv1 migrate web1 ssh://root@hv2 --direct
  $ vmig -c hv1 migrate web1 hv2 --direct --persistent --undefinesource`,
    )
    .action(lazy(() => import('./commands/migrate.js')));

  program
    .command('agent', { hidden: true })
    .description('serve one controller over stdin/stdout (run by vmig itself over SSH)')
    .action(async () => {
      const { runAgent } = await import('../agent/main.js');
      await runAgent();
      // The agent has put its migrations in a safe state; nothing it left open may keep it alive.
      setTimeout(() => process.exit(0), 2_000).unref();
    });

  return program;
}
