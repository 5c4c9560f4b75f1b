// Process liveness checks that survive pid reuse: a pid counts as ours only if its command line names our marker.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { sleep } from './timers.js';

/** Whether `pid` is a live process. A zombie (exited, not yet reaped by its parent) counts as dead. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // No /proc (not Linux) or it just exited: kill(0) above is the best answer there is.
    return !existsSync('/proc/self');
  }
}

/**
 * Who a process is, beyond its pid: its start time (clock ticks after boot, /proc/PID/stat field 22) and the
 * boot it belongs to. A pid alone is reused after the process exits or the host reboots; all three are not.
 */
export interface ProcessIdentity {
  pid: number;
  /** undefined where /proc is not available. */
  startTime?: string;
  bootId?: string;
}

/** Field 22 of /proc/PID/stat, or undefined when the process (or /proc) is not there. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[22 - 3];
  } catch {
    return undefined;
  }
}

let cachedBootId: string | undefined;
/** The kernel's id of the current boot, or undefined without /proc. */
export function currentBootId(): string | undefined {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return undefined;
    }
  }
  return cachedBootId;
}

let cachedBootTime: number | undefined;
/** When this boot began (ms since the epoch, /proc/stat btime), or undefined without /proc. */
export function bootTimeMs(): number | undefined {
  if (cachedBootTime === undefined) {
    try {
      const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
      if (btime === undefined) return undefined;
      cachedBootTime = Number(btime) * 1000;
    } catch {
      return undefined;
    }
  }
  return cachedBootTime;
}

export function processIdentity(pid = process.pid): ProcessIdentity {
  const startTime = processStartTime(pid);
  const bootId = currentBootId();
  return { pid, ...(startTime !== undefined ? { startTime } : {}), ...(bootId !== undefined ? { bootId } : {}) };
}

/**
 * Whether the process a record names still runs: same boot, pid alive, same start time. A record written
 * before start times were kept (pid only) falls back to the pid, the best it can say.
 */
export function identityAlive(identity: ProcessIdentity): boolean {
  const bootId = currentBootId();
  if (identity.bootId !== undefined && bootId !== undefined && identity.bootId !== bootId) return false;
  if (!Number.isInteger(identity.pid) || identity.pid <= 0 || !pidAlive(identity.pid)) return false;
  if (identity.startTime === undefined) return true;
  const startTime = processStartTime(identity.pid);
  return startTime === undefined || startTime === identity.startTime;
}

/** True when `pid` runs and its argv contains `marker` (a path unique to the instance). */
export async function pidRunsWith(pid: number, marker: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** Waits up to `timeoutMs` for `pid` to exit; returns whether it did. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await sleep(50);
  }
  return !pidAlive(pid);
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function terminate(pid: number, graceMs = 3_000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(pid, 2_000);
}
