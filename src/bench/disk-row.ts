// The disk rows (`npm run bench -- --disk MiB`): a second guest whose local raw disk (random data, on h1's
// private directory) moves with its memory, through the real CLI as an operator runs it:
//   vmig -c <from> --json migrate bench-disk <to> --copy-storage-all --transport tls|ssh|--direct
// The source's image stays behind on the host it left (vmig never deletes a source disk); the next migration
// back would find it there and refuse it, so it is removed first, as an operator would.
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { STATUS_HMP } from '../lab/guest-status.js';
import type { Lab } from '../lab/lab.js';
import type { DiskSample } from './disk-stats.js';
import { guestKernel, waitUntilFilled } from './guest.js';
import type { BenchTransport, Miss } from './stats.js';

export const DISK_GUEST = 'bench-disk';
/** The disk guest's RAM: small, so that the disk dominates the row and the guest fills it quickly. */
export const DISK_GUEST_RAM_MIB = 256;
const IMAGE = 'bench-disk.img';

async function vmigOk(lab: Lab, args: string[]): Promise<string> {
  const result = await lab.vmig(args, { timeoutMs: 120_000 });
  if (result.exitCode !== 0)
    throw new Error(`vmig ${args.join(' ')} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** Writes the disk (random data, all allocated) on `host`, defines and starts the guest, waits for its RAM. */
export async function startDiskGuest(lab: Lab, host: string, diskMiB: number): Promise<void> {
  execFileSync('dd', [
    'if=/dev/urandom',
    `of=${join(lab.hosts[host]!.privateDir, IMAGE)}`,
    'bs=1M',
    `count=${diskMiB}`,
    'status=none',
  ]);
  const file = join(lab.dir, `${DISK_GUEST}.json`);
  await writeFile(
    file,
    JSON.stringify({
      name: DISK_GUEST,
      memoryMiB: DISK_GUEST_RAM_MIB,
      vcpus: 1,
      machine: 'pc',
      accel: 'tcg',
      kernel: guestKernel(lab.repoRoot),
      append: 'idle',
      disks: [{ path: join(lab.privateDir, IMAGE), format: 'raw', shared: false }],
    }),
  );
  await vmigOk(lab, ['-c', host, 'define', file]);
  await vmigOk(lab, ['-c', host, 'start', DISK_GUEST]);
  await waitUntilFilled(async () => {
    const stdout = await vmigOk(lab, [
      '-c',
      host,
      'qemu-monitor-command',
      DISK_GUEST,
      JSON.stringify({ execute: 'human-monitor-command', arguments: { 'command-line': STATUS_HMP } }),
    ]);
    return String((JSON.parse(stdout) as { return: unknown }).return);
  });
}

interface ResultEvent {
  type: 'result';
  status: string;
  totalTimeMs: number;
  qemuTotalTimeMs?: number;
  transferredBytes?: number;
  disks?: Array<{ copiedBytes: number }>;
  diskCopyMs?: number;
  error?: { message: string };
}

/** One migration of the disk guest; a refusal or failure is a Miss, never a made-up figure. */
export async function migrateDiskGuest(
  lab: Lab,
  transport: BenchTransport,
  round: number,
  from: string,
  to: string,
): Promise<DiskSample | (Miss & { moved: boolean })> {
  await rm(join(lab.hosts[to]!.privateDir, IMAGE), { force: true });
  const transportArgs = transport === 'direct' ? ['--direct'] : ['--transport', transport];
  const run = await lab.vmig(
    ['-c', from, '--json', 'migrate', DISK_GUEST, to, '--copy-storage-all', ...transportArgs],
    { timeoutMs: 900_000 },
  );
  const result = run.stdout
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as ResultEvent];
      } catch {
        return [];
      }
    })
    .find((event) => event.type === 'result');
  const why = result?.error?.message ?? `exit ${run.exitCode}: ${run.stderr.trim().split('\n').at(-1) ?? ''}`;
  if (run.exitCode !== 0 || result?.status !== 'completed')
    return { transport, kind: run.exitCode === 2 ? 'unavailable' : 'failed', reason: why, moved: false };
  if (!result.disks?.length || !result.diskCopyMs || !result.transferredBytes || !result.qemuTotalTimeMs)
    return { transport, kind: 'failed', reason: 'the result event lacks the disk or memory figures', moved: true };
  return {
    transport,
    round,
    diskBytes: result.disks.reduce((sum, disk) => sum + disk.copiedBytes, 0),
    diskCopyMs: result.diskCopyMs,
    ramBytes: result.transferredBytes,
    ramMs: result.qemuTotalTimeMs,
    wallTimeMs: result.totalTimeMs,
  };
}
