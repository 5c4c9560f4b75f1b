// Shared steps of the e2e suites: test guests on lab hosts, reading their self-check status, asserting placement.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Lab, RunResult } from '../../src/lab/lab.js';
import { parseGuestStatus, STATUS_HMP, type GuestStatus } from '../../src/lab/guest-status.js';
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import { RpcConnection } from '../../src/protocol/rpc.js';
import { DEFAULT_PORT_RANGE } from '../../src/transports/ports.js';

export const GUEST_KERNEL = join(import.meta.dirname, '..', 'guest', 'build', 'guest.bin');

/** Asserts success and shows what vmig said when it was not. */
export function expectOk(result: RunResult): RunResult {
  expect(result.exitCode, `vmig failed:\n${result.stderr}\n${result.stdout}`).toBe(0);
  return result;
}

/** A bad-input failure: the documented code, one line on stderr, no stack trace. */
export function expectCleanFailure(result: RunResult, exitCode: number, pattern: RegExp): void {
  expect(result.exitCode, `stderr: ${result.stderr}`).toBe(exitCode);
  const lines = result.stderr
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('vmig: error:'));
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

/** The test guest's definition as an agent takes it over RPC (migrate.prepare, Instances.start). */
export function guestDefinition(name: string, uuid: string, memoryMiB = 64) {
  return {
    name,
    uuid,
    memoryMiB,
    vcpus: 1,
    machine: 'pc',
    accel: 'tcg',
    kernel: GUEST_KERNEL,
    disks: [],
    extraArgs: [],
  };
}

/**
 * An agent of `host` spoken to directly over its stdio, past the hello: for tests at the protocol level.
 * close() ends it and waits for its exit.
 */
export async function spawnAgent(lab: Lab, host: string): Promise<{ rpc: RpcConnection; close(): Promise<void> }> {
  const labHost = lab.hosts[host]!;
  const agent = spawn(
    'ip',
    ['netns', 'exec', labHost.ns, process.execPath, join(lab.repoRoot, 'bin', 'vmig'), 'agent'],
    {
      env: {
        PATH: lab.path,
        HOME: labHost.home,
        VMIG_STATE_DIR: labHost.stateDir,
        VMIG_HOST_CONFIG: join(labHost.dir, 'host.toml'),
        VMIG_AGENT_IDLE_TIMEOUT_MS: '300000',
      },
    },
  );
  agent.stderr.resume();
  const rpc = new RpcConnection(agent.stdout, agent.stdin, { peer: host });
  const close = async () => {
    rpc.close();
    agent.stdin.end();
    await new Promise((resolve) =>
      agent.exitCode === null && agent.signalCode === null ? agent.once('exit', resolve) : resolve(undefined),
    );
  };
  try {
    await rpc.call('hello', { protocol: PROTOCOL_VERSION, version: 'test', label: host });
  } catch (error) {
    await close();
    throw error;
  }
  return { rpc, close };
}

/** An agent of `host` for the enclosing describe block (spawnAgent in beforeAll, closed in afterAll). */
export function agentForSuite(lab: () => Lab, host: string): () => RpcConnection {
  let agent: Awaited<ReturnType<typeof spawnAgent>> | undefined;
  beforeAll(async () => {
    agent = await spawnAgent(lab(), host);
  });
  afterAll(async () => {
    await agent?.close();
  });
  return () => agent!.rpc;
}

export interface GuestOptions {
  memoryMiB?: number;
  append?: string;
  uuid?: string;
  kernel?: string;
}

export async function writeDomainFile(lab: Lab, name: string, options: GuestOptions = {}): Promise<string> {
  const path = join(lab.dir, `${name}.json`);
  const domain = {
    name,
    ...(options.uuid ? { uuid: options.uuid } : {}),
    memoryMiB: options.memoryMiB ?? 64,
    vcpus: 1,
    machine: 'pc',
    // Under TCG explicitly: /dev/kvm may exist here and be unusable (shared/DESIGN.md).
    accel: 'tcg',
    kernel: options.kernel ?? GUEST_KERNEL,
    ...(options.append ? { append: options.append } : {}),
  };
  await writeFile(path, JSON.stringify(domain, null, 2));
  return path;
}

/** Defines and starts the self-checking guest on `host`, and waits until it has verified its RAM twice. */
export async function startGuest(
  lab: Lab,
  host: string,
  name: string,
  options: GuestOptions = {},
): Promise<GuestStatus> {
  const file = await writeDomainFile(lab, name, options);
  expectOk(await lab.vmig(['-c', host, 'define', file]));
  expectOk(await lab.vmig(['-c', host, 'start', name]));
  return waitForPasses(lab, host, name, 2);
}

export async function guestStatus(lab: Lab, host: string, name: string): Promise<GuestStatus> {
  const command = JSON.stringify({ execute: 'human-monitor-command', arguments: { 'command-line': STATUS_HMP } });
  const result = expectOk(await lab.vmig(['-c', host, 'qemu-monitor-command', name, command]));
  const reply = JSON.parse(result.stdout) as { return: string };
  return parseGuestStatus(reply.return);
}

/** Waits (bounded) until the guest has completed at least `minPasses` passes in total. */
export async function waitForPasses(
  lab: Lab,
  host: string,
  name: string,
  minPasses: number,
  timeoutMs = 60_000,
): Promise<GuestStatus> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 600; attempt++) {
    const status = await guestStatus(lab, host, name);
    if (status.passes >= minPasses || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return guestStatus(lab, host, name);
}

/**
 * The guest arrived intact: same boot (nonce), its pass counter went on from where it was, and it has
 * since re-verified all its RAM at least twice more without finding a single wrong word.
 */
export async function expectGuestContinued(
  lab: Lab,
  host: string,
  name: string,
  before: GuestStatus,
): Promise<GuestStatus> {
  const arrived = await guestStatus(lab, host, name);
  expect(arrived.magicOk).toBe(true);
  expect(arrived.bootNonce).toBe(before.bootNonce);
  expect(arrived.passes).toBeGreaterThanOrEqual(before.passes);
  const later = await waitForPasses(lab, host, name, arrived.passes + 2);
  expect(later.passes).toBeGreaterThanOrEqual(arrived.passes + 2);
  expect(later.bootNonce).toBe(before.bootNonce);
  expect(later.errors).toBe(0);
  return later;
}

/** The pids of QEMU processes in a lab host's namespace. */
export async function qemuPids(lab: Lab, host: string): Promise<number[]> {
  const pids = await lab.pids(host);
  const qemu: number[] = [];
  for (const pid of pids) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.startsWith('qemu-system')) qemu.push(pid);
  }
  return qemu;
}

/** The pids of the QEMU processes in a lab host's namespace that run guest `name`. */
export async function guestQemuPids(lab: Lab, host: string, name: string): Promise<number[]> {
  const mine: number[] = [];
  for (const pid of await qemuPids(lab, host)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(`guest=${name},`)) mine.push(pid);
  }
  return mine;
}

export interface ListedDomain {
  name: string;
  uuid: string;
  state: string;
  persistent: boolean;
}

export async function listDomains(lab: Lab, host: string, all = false): Promise<ListedDomain[]> {
  const result = expectOk(await lab.vmig(['-c', host, 'list', '--json', ...(all ? ['--all'] : [])]));
  return JSON.parse(result.stdout) as ListedDomain[];
}

/** Exactly one host runs the guest, and it is `expected`; no other host has a QEMU left for it. */
export async function expectRunsOnlyOn(lab: Lab, expected: string, name: string, state = 'running'): Promise<void> {
  for (const host of Object.keys(lab.hosts)) {
    const running = (await listDomains(lab, host)).filter((domain) => domain.name === name);
    if (host === expected)
      expect(
        running.map((domain) => domain.state),
        `${name} on ${host}`,
      ).toEqual([state]);
    else expect(running, `${name} must not be on ${host}`).toEqual([]);
  }
}

/**
 * A tls migration h1 → h2 that switches to post-copy after 3 s of pre-copy at 8 MiB/s (~12 s of pages left to
 * cut), then every migration port of h2 drops packets: the stream stops dead after the switch-over while SSH (the
 * control path) still works. Returns the failed run (exit 4 expected, both halves kept for `vmig recover`).
 */
export async function cutPostcopyAfterSwitchover(lab: Lab, name: string): Promise<RunResult> {
  const run = lab.spawnVmig(
    ['-c', 'h1', 'migrate', name, 'h2', '--transport', 'tls', '--bandwidth', '8'].concat([
      '--timeout',
      '3',
      '--timeout-action',
      'postcopy',
      '--stall-timeout',
      '5',
    ]),
    { timeoutMs: 300_000 },
  );
  try {
    await run.waitForLine(/post-copy: resuming/, { stream: 'stderr', timeoutMs: 120_000 });
    await lab.blockPorts('h2', DEFAULT_PORT_RANGE[0], DEFAULT_PORT_RANGE[1]);
    return await run.wait();
  } finally {
    run.kill('SIGKILL');
    await lab.unblockPorts('h2');
  }
}
