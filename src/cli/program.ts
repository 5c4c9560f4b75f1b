// The commander definition of every command and option. Actions lazy-load their implementation so that
// `vmig --help` and `vmig --version` never load ssh2, ora or zod. Tests read this definition to keep the
// man page and the completion scripts in step with it.
import { Argument, Command, Option } from 'commander';
import { addMigrationOptions } from '../options/commander.js';
import type { Shell } from './completion/index.js';
import type { Action, GlobalOptions } from './action.js';

const lazy =
  (load: () => Promise<{ default: Action }>) =>
  async (...received: unknown[]) => {
    const command = received.at(-1) as Command;
    // A variadic argument (`host install HOST…`) arrives as one array.
    const args = received.slice(0, -2).flatMap((value) => (Array.isArray(value) ? value.map(String) : [String(value)]));
    const [{ default: action }, { applyConfig }] = await Promise.all([load(), import('../config/index.js')]);
    // Merge order: config files < $VMIG_DEFAULT_CONNECT < flags (commander knows where each value came from).
    const connectSource = command.getOptionValueSourceWithGlobals('connect');
    const globals = await applyConfig(
      command.optsWithGlobals() as GlobalOptions,
      connectSource === 'cli' || connectSource === 'env',
    );
    await action(globals, args, command.opts());
  };

export function buildProgram(version: string): Command {
  const program = new Command('vmig')
    .description('Live-migrate QEMU virtual machines between hosts, securely.')
    .version(version, '-V, --version', 'print the vmig version')
    .addOption(
      new Option(
        '-c, --connect <uri>',
        'host to act on: local, ssh://[user@]host[:port], a host from ~/.ssh/config or a config alias',
      )
        .env('VMIG_DEFAULT_CONNECT')
        .default('local'),
    )
    .option(
      '--config <file>',
      'read this config file after /etc/vmig/config.toml and ~/.config/vmig/config.toml (also VMIG_CONFIG)',
    )
    .option('--json', 'machine-readable output on stdout', false)
    .option('-q, --quiet', 'print only results and errors', false)
    .option('-v, --verbose', 'print phase timings, QEMU parameters and agent logs', false)
    .option('--no-color', 'never colour the output (also NO_COLOR=1)')
    .option('--debug', 'print stack traces of internal errors', false)
    .option(
      '--accept-new-host-key',
      "record an unknown host's SSH key in known_hosts (a changed key is still refused)",
      false,
    )
    .showSuggestionAfterError(true)
    // Set before the subcommands are added, so that they inherit it: only main.ts decides how to exit.
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ vmig host install hv1 hv2 && vmig host check hv1 hv2 --from hv1
  $ vmig -c hv1 define web1.json && vmig -c hv1 start web1
  $ vmig -c hv1 migrate web1 hv2                        # encrypted by default: tls, or ssh behind a firewall
  $ vmig -c hv1 migrate web1 hv2 --tunnelled --persistent --undefinesource --json
  $ vmig -c hv1 migrate web1 hv2 --dry-run              # check both hosts, show the transport, change nothing
  $ vmig -c ssh://hv1 list --all
  $ vmig -c hv1 migrate web1 hv2 --direct               # WARNING: unencrypted, unauthenticated; trusted networks only

Exit codes: 0 ok, 1 migration failed (guest still on the source), 2 bad usage or input,
3 cannot connect or authenticate, 4 needs recovery (the message says how), 5 locked by another job,
6 evacuation incomplete (guests still on the source).`,
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

  const migrate = program
    .command('migrate')
    .description('live-migrate a running domain from the --connect host to DEST')
    .argument('<name>', 'domain name')
    .argument('<dest>', 'destination host URI');
  addMigrationOptions(migrate, 'migrate')
    .option(
      '--dry-run',
      'run the Begin and Prepare checks on both hosts, print the plan (transport and why), change nothing',
      false,
    )
    .addHelpText(
      'after',
      `
Examples:
  $ vmig -c hv1 migrate web1 ssh://root@hv2                  # encrypted by default: tls, or ssh behind a firewall
  $ vmig -c hv1 migrate web1 hv2 --tunnelled --persistent --undefinesource
  $ vmig -c hv1 migrate web1 hv2 --dry-run                    # check both hosts, show the transport, change nothing
  $ vmig -c hv1 migrate web1 hv2 --transport ssh              # relayed over SSH: no port between the hosts
  $ vmig -c hv1 migrate web1 hv2 --copy-storage-all           # local disks too, over the same encrypted transport
  $ vmig -c hv1 migrate web1 hv2 --copy-storage-all --migrate-disks vda --storage-map /srv/local=/srv/big
  $ vmig -c hv1 migrate web1 hv2 --migrate-uri tcp:[fd00:9::12]:49200
  $ vmig -c hv1 migrate web1 hv2 --direct                     # WARNING: unencrypted, unauthenticated; trusted networks only`,
    )
    .action(lazy(() => import('./commands/migrate.js')));

  const evacuate = program
    .command('evacuate')
    .description('move every running guest off a host onto the --to hosts, in parallel, with a report (made for cron)')
    .argument('<source>', 'host to empty (matched exactly, never as a pattern)')
    .option('--to <hosts>', 'destination hosts, comma-separated (exact names)')
    .option('--max-parallel <n>', 'migrations at once', '2')
    .option(
      '--headroom <MiB>',
      'memory kept free on each destination, on top of its host.toml memory_headroom_mib',
      '0',
    )
    .option('--only <patterns>', 'evacuate only guests whose names match these globs (comma-separated; * and ?)')
    .option('--exclude <patterns>', 'leave guests whose names match these globs on the source')
    .option('--dry-run', 'print the plan (guest, destination, why) and change nothing', false)
    .option('--abort', 'ask the evacuation running on <source> (from another shell) to start no new migrations', false);
  // Then every per-guest option of migrate, applied to each guest.
  addMigrationOptions(evacuate, 'evacuate')
    .addHelpText(
      'after',
      `
Examples:
  $ vmig evacuate hv1 --to hv2,hv3 --dry-run
  $ vmig evacuate hv1 --to hv2,hv3 --max-parallel 2 --json >> /var/log/evacuate.ndjson
  $ vmig evacuate hv1 --abort

Exit codes: 0 the source runs none of the selected guests any more, 4 a guest needs recovery,
5 another evacuation of this source is running, 6 partial: some guests are still (safely) on the source.`,
    )
    .action(lazy(() => import('./commands/evacuate.js')));

  program
    .command('domjobinfo')
    .description(
      'show the migration job of a domain on the --connect host: phase, pass, bytes, rates, its job id and controller',
    )
    .argument('<name>', 'domain name')
    .action(lazy(() => import('./commands/domjobinfo.js')));

  program
    .command('domjobabort')
    .description('cancel the migration job of a domain (from any controller); the guest keeps running on the source')
    .argument('<name>', 'domain name')
    .action(lazy(() => import('./commands/domjobabort.js')));

  program
    .command('migrate-setspeed')
    .description('change the bandwidth cap of a running migration job')
    .argument('<name>', 'domain name')
    .argument('<MiBs>', 'MiB/s; 0 lifts the cap')
    .action(lazy(() => import('./commands/migrate-setspeed.js')));

  program
    .command('migrate-setmaxdowntime')
    .description('change the longest pause a running migration job may impose at switch-over')
    .argument('<name>', 'domain name')
    .argument('<ms>', 'milliseconds')
    .action(lazy(() => import('./commands/migrate-setmaxdowntime.js')));

  program
    .command('completion')
    .description('print the shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      '\nExamples:\n  $ source <(vmig completion bash)\n  $ vmig completion fish > ~/.config/fish/completions/vmig.fish',
    )
    // No config or host needed: the script is rendered from this very definition.
    .action(async (shell: Shell, _options: unknown, command: Command) => {
      const { printCompletion } = await import('./commands/completion.js');
      printCompletion(shell, command.parent!);
    });

  program
    .command('recover')
    .description('resolve a guest whose migration was interrupted: it ends up running on exactly one host')
    .argument('<name>', 'domain name')
    .option('--destination <uri>', 'the other host of the migration (default: as recorded in the source journal)')
    .option('--dry-run', 'show what would be done, change nothing', false)
    .addOption(
      new Option(
        '--transport <name>',
        'stream for resuming a broken post-copy (default: ssh, which needs no port between the hosts)',
      ).choices(['ssh', 'tls', 'direct']),
    )
    .option(
      '--p2p',
      'resume a broken post-copy over ssh from the source host itself (its own ssh config and known_hosts), so the controller carries no byte',
    )
    .addHelpText('after', '\nExample:\n  $ vmig -c hv1 recover web1 --destination hv2')
    .action(lazy(() => import('./commands/recover.js')));

  const host = program
    .command('host')
    .description('prepare and check hypervisor hosts: install this vmig on them, validate them');
  host
    .command('install')
    .description(
      'copy this vmig (this exact version, with its Node modules) to each host over SSH, next to other versions',
    )
    .argument('<hosts...>', 'host URIs or names from ~/.ssh/config')
    .option('--parallel <n>', 'hosts at once', '4')
    .addHelpText(
      'after',
      `
Needs Node.js 20.19+ and tar on each host; nothing is downloaded there. Installs into /usr/local/lib/vmig/<version>/
(as root) or ~/.local/lib/vmig/<version>/; vmig then uses that build for the host automatically. Installing the
same build again copies nothing.

Examples:
  $ vmig host install hv1 hv2 hv3
  $ vmig host install ssh://root@10.0.9.12 --json

Exit codes: 0 every host has this version, 2 a host is unsuitable (e.g. no Node.js), 3 a host cannot be reached.`,
    )
    .action(lazy(() => import('./commands/host-install.js')));
  host
    .command('check')
    .description(
      'validate hosts like virt-host-validate: agent and version, QEMU, KVM, state dir, host.toml, migration port, memory, disk',
    )
    .argument('<hosts...>', 'host URIs or names from ~/.ssh/config')
    .option(
      '--from <source>',
      'also check what a migration from SOURCE to each host can use: its migration port (tls, direct) or only SSH',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ vmig host check hv1 hv2 --from hv1
  $ vmig host check hv2 --json | jq '.hosts[].checks[] | select(.status == "fail")'

Exit codes: 0 every check passed, 1 a check failed (one line each on stderr, with its fix), 2 bad usage.`,
    )
    .action(lazy(() => import('./commands/host-check.js')));

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
