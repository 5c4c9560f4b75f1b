// Fault injection with real processes: every way a migration can break leaves the guest running on exactly
// one host (after `vmig recover` where the exit code asks for it), intact, with nothing left behind.
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type RunResult } from '../../src/lab/lab.js';
import {
  expectGuestContinued,
  expectOk,
  guestQemuPids,
  guestStatus,
  listDomains,
  qemuPids,
  startGuest,
} from './support.js';

interface Row {
  fault: string;
  exitCode: number;
  recovered: string;
  runsOn: string;
  leftovers: string;
}

const matrix: Row[] = [];
/** A slow, converging copy (~8 s for 64 MiB) so that faults land mid-stream. */
const SLOW = ['--bandwidth', '8', '--stall-timeout', '8'];
const GUEST_APPEND = 'dirty=16';

describe('fault injection', () => {
  let lab: Lab;
  let counter = 0;

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
  });
  afterAll(async () => {
    printMatrix();
    await lab?.destroy();
  });

  function printMatrix(): void {
    if (matrix.length === 0) return;
    const headers: Array<keyof Row> = ['fault', 'exitCode', 'recovered', 'runsOn', 'leftovers'];
    const widths = headers.map((header) => Math.max(header.length, ...matrix.map((row) => String(row[header]).length)));
    const line = (cells: string[]) => cells.map((cell, index) => cell.padEnd(widths[index]!)).join(' | ');
    console.log(
      [
        '',
        'Fault matrix:',
        line(headers),
        widths.map((width) => '-'.repeat(width)).join('-+-'),
        ...matrix.map((row) => line(headers.map((header) => String(row[header])))),
      ].join('\n'),
    );
  }

  async function agentPid(host: string): Promise<number | undefined> {
    for (const pid of await lab.pids(host)) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes('vmig') && cmdline.endsWith('agent\0') && !cmdline.includes('sshd')) return pid;
    }
    return undefined;
  }

  /** Leftovers on a host for `name`: QEMU of another guest name does not count. */
  async function leftovers(name: string, options: { staleLocks: boolean } = { staleLocks: true }): Promise<string[]> {
    const found: string[] = [];
    for (const host of ['h1', 'h2']) {
      const lockPath = join(lab.hosts[host]!.stateDir, 'locks', `${name}.lock`);
      if (existsSync(lockPath)) {
        const holder = JSON.parse(await readFile(lockPath, 'utf8').catch(() => '{}')) as { agentPid?: number };
        const alive = holder.agentPid !== undefined && existsSync(`/proc/${holder.agentPid}`);
        if (alive || options.staleLocks) found.push(`${host}: ${alive ? '' : 'stale '}lock`);
      }
      for (const pid of await lab.pids(host)) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.endsWith('agent\0')) found.push(`${host}: agent ${pid}`);
      }
    }
    return found;
  }

  /** Waits (bounded) until no agent runs and no lock is held: the agents have finished acting alone. */
  async function settle(name: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 300 && Date.now() < deadline; attempt++) {
      // A stale lock (its agent is dead) is for `vmig recover` to clear; live agents are what we wait for.
      if ((await leftovers(name, { staleLocks: false })).length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function whereRuns(name: string): Promise<string[]> {
    const hosts: string[] = [];
    for (const host of ['h1', 'h2'])
      if ((await listDomains(lab, host)).some((domain) => domain.name === name && domain.state === 'running'))
        hosts.push(host);
    return hosts;
  }

  /**
   * One fault case: a fresh guest on h1, a migration to h2 with `inject` applied when `when` shows up on
   * vmig's stderr; then the promised exit code, `vmig recover` if needed, and the invariant.
   */
  async function faultCase(options: {
    fault: string;
    when: RegExp;
    inject: (name: string, run: ReturnType<Lab['spawnVmig']>) => Promise<void>;
    expectExit: number[];
    expectHost?: 'h1' | 'h2';
    extraArgs?: string[];
    /** Default --direct. */
    transportArgs?: string[];
    /** What `vmig recover` must report: its steps (stderr) and its result (stdout). */
    expectRecovery?: { steps: RegExp; result: RegExp };
    after?: () => Promise<void>;
  }): Promise<void> {
    const name = `f${++counter}`;
    const before = await startGuest(lab, 'h1', name, { append: GUEST_APPEND });
    const run = lab.spawnVmig(
      [
        '-c',
        'h1',
        'migrate',
        name,
        'h2',
        ...(options.transportArgs ?? ['--direct']),
        ...SLOW,
        ...(options.extraArgs ?? []),
      ],
      { timeoutMs: 180_000 },
    );
    await run.waitForLine(options.when, { stream: 'stderr', timeoutMs: 60_000 });
    await options.inject(name, run);
    const result: RunResult = await run.wait();
    expect(options.expectExit, `exit ${result.exitCode}: ${result.stderr}`).toContain(result.exitCode);
    if (result.exitCode !== 0) {
      // Failure output is one line, never a stack trace, and exit 4 names the command that resolves it.
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
      if (result.exitCode === 4) expect(result.stderr).toMatch(/vmig recover/);
    }
    await options.after?.();
    await settle(name);
    // Exit 5 means an agent is still finishing its own cleanup: an operator would simply retry.
    let recover = await lab.vmig(['-c', 'h1', 'recover', name, '--destination', 'h2']);
    for (let attempt = 0; attempt < 10 && recover.exitCode === 5; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      recover = await lab.vmig(['-c', 'h1', 'recover', name, '--destination', 'h2']);
    }
    expectOk(recover);
    if (options.expectRecovery) {
      expect(recover.stderr).toMatch(options.expectRecovery.steps);
      expect(recover.stdout).toMatch(options.expectRecovery.result);
    }
    await settle(name);
    const runsOn = await whereRuns(name);
    expect(runsOn, `${name} must run on exactly one host`).toHaveLength(1);
    if (options.expectHost) expect(runsOn).toEqual([options.expectHost]);
    await expectGuestContinued(lab, runsOn[0]!, name, before);
    const other = runsOn[0] === 'h1' ? 'h2' : 'h1';
    expect(await qemuPids(lab, other), `no QEMU left on ${other}`).toEqual(
      // Other guests of earlier cases may still run on the other host; none of them is this one.
      await qemuPidsExcept(other, name),
    );
    const left = await leftovers(name);
    expect(left).toEqual([]);
    matrix.push({
      fault: options.fault,
      exitCode: result.exitCode,
      recovered: recover.stdout.trim().split(':')[0] ?? '',
      runsOn: runsOn.join(','),
      leftovers: left.length ? left.join(' ') : 'none',
    });
    expectOk(await lab.vmig(['-c', runsOn[0]!, 'destroy', name]));
  }

  /** QEMU pids on `host` that do not belong to `name` (so the check is about this case only). */
  async function qemuPidsExcept(host: string, name: string): Promise<number[]> {
    const mine = await guestQemuPids(lab, host, name);
    return (await qemuPids(lab, host)).filter((pid) => !mine.includes(pid));
  }

  it('destination QEMU SIGKILLed during the copy → exit 1, guest on the source', async () => {
    await faultCase({
      fault: 'SIGKILL destination QEMU (copy)',
      when: /^progress: |^perform: /m,
      inject: async (name) => {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        const [pid] = await guestQemuPids(lab, 'h2', name);
        process.kill(pid!, 'SIGKILL');
      },
      expectExit: [1],
      expectHost: 'h1',
    });
  });

  it('source agent SIGKILLed during the copy → exit 4, recover puts it on one host', async () => {
    await faultCase({
      fault: 'SIGKILL source agent (copy)',
      when: /^perform: /m,
      inject: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        process.kill((await agentPid('h1'))!, 'SIGKILL');
      },
      expectExit: [4],
    });
  });

  for (const [phase, signal, exits, host] of [
    ['prepare', 'SIGKILL', [137], 'h1'],
    ['perform', 'SIGKILL', [137], 'h1'],
    ['finish', 'SIGKILL', [137], undefined],
    ['confirm', 'SIGKILL', [137], undefined],
    ['perform', 'SIGINT', [1], 'h1'],
    ['finish', 'SIGINT', [0], 'h2'],
  ] as Array<[string, NodeJS.Signals, number[], 'h1' | 'h2' | undefined]>) {
    it(`controller ${signal} in ${phase} → exit ${exits.join('/')}, guest on one host`, async () => {
      await faultCase({
        fault: `controller ${signal} (${phase})`,
        when: new RegExp(`^${phase}: `, 'm'),
        inject: async (_name, run) => {
          if (phase === 'perform') await new Promise((resolve) => setTimeout(resolve, 1_500));
          run.kill(signal);
        },
        expectExit: exits,
        ...(host ? { expectHost: host } : {}),
      });
    });
  }

  it('controller SIGKILL in post-copy over tls → its agents and the tunnel die; recover resumes the stream, guest on h2', async () => {
    await faultCase({
      fault: 'controller SIGKILL (post-copy, tls)',
      when: /^finish: post-copy/m,
      inject: async (_name, run) => {
        run.kill('SIGKILL');
      },
      expectExit: [137],
      // The guest already ran on h2 and part of its memory is only there: it can only end up on h2.
      expectHost: 'h2',
      transportArgs: ['--transport', 'tls', '--timeout', '3', '--timeout-action', 'postcopy'],
      expectRecovery: {
        steps: /h1 → h2: resume the post-copy stream over ssh/,
        result: /Recovered: the post-copy of f\d+ resumed and completed; it runs on h2/,
      },
    });
  });

  it("destination's link down during the copy (up again later) → exit 1, guest on the source", async () => {
    await faultCase({
      fault: 'destination link down (copy)',
      when: /^perform: /m,
      inject: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        await lab.linkDown('h2');
      },
      expectExit: [1, 4],
      expectHost: 'h1',
      after: async () => {
        await lab.linkUp('h2');
      },
    });
  });

  it('sshd on the destination stopped mid-migration → the open session carries on, exit 0', async () => {
    await faultCase({
      fault: 'destination sshd stopped (copy)',
      when: /^perform: /m,
      inject: async () => {
        await lab.stopSshd('h2');
      },
      expectExit: [0],
      expectHost: 'h2',
      after: async () => {
        await lab.startSshd('h2');
      },
    });
  });

  it("the destination's state directory is unusable → exit 2, nothing changed", async () => {
    const name = `f${++counter}`;
    const before = await startGuest(lab, 'h1', name);
    const runDir = join(lab.hosts.h2!.stateDir, 'run');
    await rm(runDir, { recursive: true, force: true });
    await writeFile(runDir, 'not a directory');
    let result: RunResult;
    try {
      result = await lab.vmig(['-c', 'h1', 'migrate', name, 'h2', '--direct']);
    } finally {
      await rm(runDir, { force: true });
      await mkdir(runDir, { mode: 0o700 });
    }
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/state directory .* is not (usable|a directory)/);
    matrix.push({
      fault: 'destination state dir unusable',
      exitCode: result.exitCode,
      recovered: 'not needed',
      runsOn: (await whereRuns(name)).join(','),
      leftovers: (await leftovers(name)).join(' ') || 'none',
    });
    expect(await whereRuns(name)).toEqual(['h1']);
    await expectGuestContinued(lab, 'h1', name, before);
    expectOk(await lab.vmig(['-c', 'h1', 'destroy', name]));
  });

  it('the destination QEMU cannot start (missing kernel) → exit 2, nothing changed', async () => {
    const name = `f${++counter}`;
    const kernel = join(lab.dir, `${name}.bin`);
    await writeFile(kernel, await readFile(join(import.meta.dirname, '..', 'guest', 'build', 'guest.bin')));
    const before = await startGuest(lab, 'h1', name, { kernel });
    await rm(kernel);
    const result = await lab.vmig(['-c', 'h1', 'migrate', name, 'h2', '--direct']);
    expect(result.exitCode, result.stderr).toBe(2);
    matrix.push({
      fault: 'destination QEMU cannot start (kernel)',
      exitCode: result.exitCode,
      recovered: 'not needed',
      runsOn: (await whereRuns(name)).join(','),
      leftovers: (await leftovers(name)).join(' ') || 'none',
    });
    expect(await whereRuns(name)).toEqual(['h1']);
    await expectGuestContinued(lab, 'h1', name, before);
    expect(await guestStatus(lab, 'h1', name)).toMatchObject({ errors: 0 });
    expectOk(await lab.vmig(['-c', 'h1', 'destroy', name]));
  });
});
