// The benchmark guest: the self-checking test kernel with `-append idle` (RAM filled once with incompressible
// data, then only verified), defined and driven through the vmig CLI like any operator's guest.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GUEST_PHASE_RUNNING, parseGuestStatus, STATUS_HMP, type GuestStatus } from '../lab/guest-status.js';
import type { Lab } from '../lab/lab.js';
import { sleep } from '../util/timers.js';
import { GUEST } from './vmig-row.js';

export const guestKernel = (repoRoot: string): string => join(repoRoot, 'test', 'guest', 'build', 'guest.bin');

/** Polls the guest's status block until it has filled its RAM (bounded: filling 16 GiB under TCG takes minutes). */
export async function waitUntilFilled(readHmp: () => Promise<string>, timeoutMs = 900_000): Promise<GuestStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = parseGuestStatus(await readHmp());
    if (status.magicOk && status.phase === GUEST_PHASE_RUNNING) return status;
    if (Date.now() > deadline)
      throw new Error(`the benchmark guest did not finish filling its RAM within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

async function vmigOk(lab: Lab, args: string[]): Promise<string> {
  const result = await lab.vmig(args, { timeoutMs: 120_000 });
  if (result.exitCode !== 0)
    throw new Error(`vmig ${args.join(' ')} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** `vmig qemu-monitor-command` on the guest's current host; returns QEMU's `return`. */
export async function monitor(
  lab: Lab,
  host: string,
  execute: string,
  args?: Record<string, unknown>,
): Promise<unknown> {
  const stdout = await vmigOk(lab, [
    '-c',
    host,
    'qemu-monitor-command',
    GUEST,
    JSON.stringify({ execute, ...(args ? { arguments: args } : {}) }),
  ]);
  return (JSON.parse(stdout) as { return: unknown }).return;
}

export const vmigGuestStatus = async (lab: Lab, host: string): Promise<GuestStatus> =>
  parseGuestStatus(String(await monitor(lab, host, 'human-monitor-command', { 'command-line': STATUS_HMP })));

export async function startVmigGuest(lab: Lab, host: string, memoryMiB: number): Promise<GuestStatus> {
  const file = join(lab.dir, `${GUEST}.json`);
  await writeFile(
    file,
    JSON.stringify({
      name: GUEST,
      memoryMiB,
      vcpus: 1,
      machine: 'pc',
      accel: 'tcg',
      kernel: guestKernel(lab.repoRoot),
      append: 'idle',
    }),
  );
  await vmigOk(lab, ['-c', host, 'define', file]);
  await vmigOk(lab, ['-c', host, 'start', GUEST]);
  return waitUntilFilled(async () =>
    String(await monitor(lab, host, 'human-monitor-command', { 'command-line': STATUS_HMP })),
  );
}
