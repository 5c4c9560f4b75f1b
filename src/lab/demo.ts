// `npm run demo`: two hosts as network namespaces on this machine, each with its own sshd and state
// directory; a self-checking guest starts on h1 and migrates live to h2 with visible progress.
// Needs root (namespaces), QEMU, OpenSSH server and nasm: README's first command installs them.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseGuestStatus, STATUS_HMP, type GuestStatus } from './guest-status.js';
import { Lab, findRepoRoot } from './lab.js';

const MEMORY_MIB = Number(process.env.VMIG_DEMO_MEMORY_MIB ?? 512);
const DIRTY_PAGES = 256;

function say(text: string): void {
  process.stderr.write(`\n\u001b[1m== ${text}\u001b[0m\n`);
}

async function guestStatus(lab: Lab, host: string): Promise<GuestStatus | string> {
  const command = JSON.stringify({ execute: 'human-monitor-command', arguments: { 'command-line': STATUS_HMP } });
  const result = await lab.vmig(['-c', host, 'qemu-monitor-command', 'demo', command]);
  if (result.exitCode !== 0) return result.stderr.trim();
  return parseGuestStatus((JSON.parse(result.stdout) as { return: string }).return);
}

async function guestLine(lab: Lab, host: string): Promise<string> {
  const status = await guestStatus(lab, host);
  if (typeof status === 'string') return status;
  return `boot nonce ${status.bootNonce.toString(16)}, ${status.passes} verification passes, ${status.errors} errors`;
}

/** Until the guest has filled its RAM and verified it once (bounded: 120 polls, 2 minutes): then it only dirties 1 MiB per pass. */
async function waitUntilRunning(lab: Lab): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (let poll = 0; poll < 120 && Date.now() < deadline; poll++) {
    const status = await guestStatus(lab, 'h1');
    if (typeof status !== 'string' && status.passes >= 1) return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('vmig demo: needs root to create network namespaces (run it as root, or with sudo)\n');
    return 2;
  }
  const repoRoot = findRepoRoot();
  say('creating two hosts (network namespaces h1 and h2, each with its own sshd)');
  const lab = await Lab.create({ hosts: ['h1', 'h2'], repoRoot });
  try {
    process.stderr.write(
      `h1 = ${lab.hosts.h1!.ipv4}, h2 = ${lab.hosts.h2!.ipv4}; the controller reaches them over SSH from its own namespace\n`,
    );
    const domainFile = join(lab.dir, 'demo.json');
    await writeFile(
      domainFile,
      // dirty=256: the guest rewrites 256 pages (1 MiB) per pass over its RAM, a few MiB/s even on an idle core, far
      // under the 96 MiB/s cap below: the copy converges in a few passes however loaded the machine is. (The old
      // demo's guest dirtied 70-110 MiB/s against the same cap and finished after 53 passes, by luck.)
      JSON.stringify(
        {
          name: 'demo',
          memoryMiB: MEMORY_MIB,
          accel: 'tcg',
          kernel: join(repoRoot, 'test', 'guest', 'build', 'guest.bin'),
          append: `dirty=${DIRTY_PAGES}`,
        },
        null,
        2,
      ),
    );
    say(
      `defining and starting guest "demo" (${MEMORY_MIB} MiB, a self-checking test kernel that keeps rewriting 1 MiB of it) on h1`,
    );
    for (const args of [
      ['-c', 'h1', 'define', domainFile],
      ['-c', 'h1', 'start', 'demo'],
    ]) {
      const code = await lab.vmigInteractive(args);
      if (code !== 0) return code;
    }
    await waitUntilRunning(lab);
    say(`guest on h1: ${await guestLine(lab, 'h1')}`);
    // The default transport (encrypted, chosen automatically); the cap stretches the copy so progress is visible.
    say('vmig -c h1 migrate demo h2 --dry-run   (checks both hosts, changes nothing)');
    const dry = await lab.vmigInteractive(['-c', 'h1', 'migrate', 'demo', 'h2', '--dry-run']);
    if (dry !== 0) return dry;
    say('vmig -c h1 migrate demo h2 --bandwidth 96   (capped so that you can watch the progress)');
    const code = await lab.vmigInteractive(['-c', 'h1', 'migrate', 'demo', 'h2', '--bandwidth', '96']);
    if (code !== 0) return code;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    say(`guest on h2: ${await guestLine(lab, 'h2')}`);
    say('vmig -c h1 list --all   (the old QEMU is gone; the definition stays)');
    await lab.vmigInteractive(['-c', 'h1', 'list', '--all']);
    say('vmig -c h2 list');
    await lab.vmigInteractive(['-c', 'h2', 'list']);
    say('vmig host check h1 h2 --from h1   (what to run on real hosts, after: vmig host install h1 h2)');
    return await lab.vmigInteractive(['host', 'check', 'h1', 'h2', '--from', 'h1']);
  } finally {
    say('removing the demo hosts');
    await lab.destroy();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`vmig demo: ${error.message}\n`);
    process.exitCode = 1;
  },
);
