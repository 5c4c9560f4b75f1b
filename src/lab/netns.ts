/**
 * Network-namespace plumbing for the lab: create/delete namespaces, find and
 * kill every process inside them, and sweep namespaces leaked by dead runs.
 *
 * Naming: every lab namespace is `vmig-<creatorPid>-<n>-<role>`. The creator
 * pid is encoded so a later run can tell a leaked lab (creator dead) from a
 * lab that a concurrent test worker is still using (creator alive).
 * Temp dirs follow the same scheme: `/tmp/vl-<creatorPid>-<n>-<random>`.
 *
 * Killing: `ip netns pids <ns>` lists every process whose network namespace
 * is the lab's - sshd, its sessions, agents and the QEMUs they daemonize -
 * regardless of parentage, which is why cleanup goes through it rather than
 * through a process tree.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { sleep } from '../util/timers.js';
import { run, runOk } from './proc.js';

export const NS_PREFIX = 'vmig-';
export const DIR_PREFIX = 'vl-';
const NS_RE = /^vmig-(\d+)-(\d+)-[A-Za-z0-9_.-]+$/;
const DIR_RE = /^vl-(\d+)-(\d+)-/;

export async function ip(args: string[]): Promise<void> {
  await runOk('ip', args);
}

function parseNetnsList(text: string): string[] {
  // Lines look like "name (id: 3)" or just "name".
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export async function listNetns(): Promise<string[]> {
  return parseNetnsList((await runOk('ip', ['netns', 'list'])).stdout);
}

export function listNetnsSync(): string[] {
  try {
    return parseNetnsList(
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
  } catch {
    return [];
  }
}

function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 1 && p !== process.pid);
}

export async function netnsPids(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns], { timeoutMs: 10_000 });
  return r.exitCode === 0 ? parsePids(r.stdout) : [];
}

export function netnsPidsSync(ns: string): number[] {
  try {
    return parsePids(
      execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
  } catch {
    return [];
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone (ESRCH) */
  }
}

async function allPids(namespaces: string[]): Promise<number[]> {
  const lists = await Promise.all(namespaces.map(netnsPids));
  return [...new Set(lists.flat())];
}

/**
 * SIGTERM everything in the namespaces, give it `graceMs` to exit (QEMU and
 * agents may want to clean up sockets), then SIGKILL what is left. Loops
 * because a dying process may fork (sshd sessions) into the namespace.
 */
export async function killNetnsProcesses(namespaces: string[], graceMs = 1500): Promise<number[]> {
  let left = await allPids(namespaces);
  for (const p of left) signal(p, 'SIGTERM');
  const termDeadline = Date.now() + graceMs;
  while (left.length && Date.now() < termDeadline) {
    await sleep(50);
    left = await allPids(namespaces);
  }
  for (let round = 0; left.length && round < 20; round++) {
    for (const p of left) signal(p, 'SIGKILL');
    await sleep(50);
    left = await allPids(namespaces);
  }
  return left; // non-empty only if something is unkillable (D state)
}

export function killNetnsProcessesSync(namespaces: string[]): void {
  // Synchronous context (process 'exit'): no time to be gentle.
  for (let round = 0; round < 3; round++) {
    const pids = namespaces.flatMap(netnsPidsSync);
    if (!pids.length) return;
    for (const p of pids) signal(p, 'SIGKILL');
  }
}

export async function deleteNetns(ns: string): Promise<void> {
  // Deleting a namespace destroys its veth ends, whose peers go with them.
  await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
}

export function deleteNetnsSync(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* best effort */
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove lab namespaces (and /tmp/vl-* dirs) whose creating process is dead:
 * a crashed or SIGKILLed earlier run cannot run its own cleanup. Labs of live
 * processes (parallel test workers) are left alone. Returns the namespaces removed.
 */
export async function sweepStaleLabs(): Promise<string[]> {
  const stale = (await listNetns()).filter((ns) => {
    const m = NS_RE.exec(ns);
    return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
  });
  if (stale.length) {
    await killNetnsProcesses(stale, 500);
    for (const ns of stale) await deleteNetns(ns);
  }
  let entries: string[] = [];
  try {
    entries = readdirSync('/tmp');
  } catch {
    /* no /tmp?! nothing to sweep */
  }
  for (const name of entries) {
    const m = DIR_RE.exec(name);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      rmSync(`/tmp/${name}`, { recursive: true, force: true });
    }
  }
  return stale;
}
