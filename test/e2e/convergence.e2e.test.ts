// Convergence control with a guest that dirties all its RAM every pass (`-append busy`) behind a 16 MiB/s cap,
// so it never finishes on its own: each option must reach QEMU (checked on the source while the copy runs)
// and each way of ending (abort, auto-converge, post-copy, suspend) must leave exactly one intact guest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import type { GuestStatus } from '../../src/lab/guest-status.js';
import { expectCleanFailure, expectGuestContinued, expectOk, expectRunsOnlyOn, startGuest } from './support.js';

const MiB = 1024 * 1024;
const NAME = 'busy1';

interface InFlight {
  capabilities: Record<string, boolean>;
  parameters: Record<string, unknown>;
}

async function monitor<T>(lab: Lab, host: string, execute: string): Promise<T> {
  const result = expectOk(await lab.vmig(['-c', host, 'qemu-monitor-command', NAME, JSON.stringify({ execute })]));
  return (JSON.parse(result.stdout) as { return: T }).return;
}

async function configured(lab: Lab, host: string): Promise<InFlight> {
  const capabilities = Object.fromEntries(
    (await monitor<{ capability: string; state: boolean }[]>(lab, host, 'query-migrate-capabilities')).map((entry) => [
      entry.capability,
      entry.state,
    ]),
  );
  return { capabilities, parameters: await monitor<Record<string, unknown>>(lab, host, 'query-migrate-parameters') };
}

/**
 * Runs `vmig migrate` and reads the source QEMU's migration settings while the copy runs: the agent sets them
 * just after the perform line, so they are polled (bounded) until `applied` holds.
 */
async function migrateObserved(lab: Lab, source: string, args: string[], applied: (seen: InFlight) => boolean) {
  const run = lab.spawnVmig(['-c', source, 'migrate', NAME, ...args], { timeoutMs: 300_000 });
  try {
    await run.waitForLine(/^perform: /, { stream: 'stderr', timeoutMs: 120_000 });
    let seen = await configured(lab, source);
    for (let attempt = 0; attempt < 40 && !applied(seen); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await configured(lab, source);
    }
    return { seen, result: await run.wait() };
  } catch (error) {
    run.kill('SIGKILL');
    throw error;
  }
}

describe('convergence control', () => {
  let lab: Lab;
  let before: GuestStatus;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
    before = await startGuest(lab, 'h1', NAME, { append: 'busy' });
  }, 180_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it('refuses --timeout-action without --timeout up front (exit 2)', async () => {
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', NAME, 'h2', '--timeout-action', 'suspend']),
      2,
      /--timeout-action needs --timeout/,
    );
  });

  it('--timeout 15 --timeout-action abort: exit 1, the guest runs on intact on the source', async () => {
    const { seen, result } = await migrateObserved(
      lab,
      'h1',
      ['h2', '--bandwidth', '16', '--timeout', '15', '--timeout-action', 'abort'],
      (seen) => seen.parameters['max-bandwidth'] === 16 * MiB,
    );
    expect(seen.parameters['max-bandwidth']).toBe(16 * MiB);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(
      /did not complete within --timeout 15 s \(--timeout-action abort\).*still running on h1/,
    );
    // 15 s at 16 MiB/s is several passes of a guest that dirties everything: the operator was told why.
    expect(result.stderr).toMatch(/is not converging: .*--auto-converge/);
    await expectRunsOnlyOn(lab, 'h1', NAME);
    before = await expectGuestContinued(lab, 'h1', NAME, before);
  });

  it('--auto-converge throttles the guest until the copy completes, intact', async () => {
    const { seen, result } = await migrateObserved(
      lab,
      'h1',
      [
        'h2',
        '--direct',
        '--bandwidth',
        '32',
        '--auto-converge',
        '--auto-converge-initial',
        '40',
        '--auto-converge-increment',
        '20',
      ],
      (seen) => seen.capabilities['auto-converge'] === true,
    );
    expect(seen.capabilities['auto-converge']).toBe(true);
    expect(seen.parameters).toMatchObject({ 'cpu-throttle-initial': 40, 'cpu-throttle-increment': 20 });
    expect(result.exitCode, result.stderr).toBe(0);
    await expectRunsOnlyOn(lab, 'h2', NAME);
    before = await expectGuestContinued(lab, 'h2', NAME, before);
  });

  it('--postcopy-after-precopy switches after the first pass and completes, intact', async () => {
    const { seen, result } = await migrateObserved(
      lab,
      'h2',
      ['h1', '--direct', '--bandwidth', '16', '--postcopy-after-precopy'],
      (seen) => seen.capabilities['postcopy-ram'] === true && seen.parameters['max-bandwidth'] === 16 * MiB,
    );
    expect(seen.capabilities['postcopy-ram']).toBe(true);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/switching to post-copy \(--postcopy-after-precopy\)/);
    await expectRunsOnlyOn(lab, 'h1', NAME);
    before = await expectGuestContinued(lab, 'h1', NAME, before);
  });

  it('--timeout 10 --timeout-action postcopy completes, intact', async () => {
    const { seen, result } = await migrateObserved(
      lab,
      'h1',
      ['h2', '--direct', '--bandwidth', '16', '--timeout', '10', '--timeout-action', 'postcopy'],
      (seen) => seen.capabilities['postcopy-ram'] === true && seen.parameters['max-bandwidth'] === 16 * MiB,
    );
    expect(seen.capabilities['postcopy-ram']).toBe(true);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/switching to post-copy \(--timeout 10 s reached\)/);
    await expectRunsOnlyOn(lab, 'h2', NAME);
    before = await expectGuestContinued(lab, 'h2', NAME, before);
  });

  it('--timeout 10 --timeout-action suspend pauses the guest so the copy ends; it resumes on the destination, intact', async () => {
    const { seen, result } = await migrateObserved(
      lab,
      'h2',
      ['h1', '--bandwidth', '16', '--compressed', '--timeout', '10', '--timeout-action', 'suspend'],
      (seen) => seen.capabilities.xbzrle === true,
    );
    expect(seen.capabilities.xbzrle).toBe(true);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/pausing the guest so the copy can finish/);
    await expectRunsOnlyOn(lab, 'h1', NAME);
    before = await expectGuestContinued(lab, 'h1', NAME, before);
  });

  it('--parallel 2 sends over multifd channels (direct), intact', async () => {
    const { seen, result } = await migrateObserved(
      lab,
      'h1',
      ['h2', '--direct', '--bandwidth', '16', '--parallel', '2', '--timeout', '10', '--timeout-action', 'suspend'],
      (seen) => seen.capabilities.multifd === true,
    );
    expect(seen.capabilities.multifd).toBe(true);
    expect(seen.parameters['multifd-channels']).toBe(2);
    expect(result.exitCode, result.stderr).toBe(0);
    await expectRunsOnlyOn(lab, 'h2', NAME);
    before = await expectGuestContinued(lab, 'h2', NAME, before);
  });

  it('--downtime-steps 4 --max-downtime 4000 starts at 1000 ms and allows more each time the copy stops converging, intact', async () => {
    const { seen, result } = await migrateObserved(
      lab,
      'h2',
      ['h1', '--direct', '--bandwidth', '32', '--max-downtime', '4000', '--downtime-steps', '4'],
      (seen) => seen.parameters['downtime-limit'] === 1000,
    );
    expect(seen.parameters['downtime-limit']).toBe(1000);
    expect(result.exitCode, result.stderr).toBe(0);
    // 64 MiB re-dirtied per pass at 32 MiB/s needs about 2 s: the first step cannot converge, a later one does.
    expect(result.stderr).toMatch(
      /not converging with 1000 ms of downtime; allowing 2000 ms \(--downtime-steps, step 2 of 4\)/,
    );
    await expectRunsOnlyOn(lab, 'h1', NAME);
    before = await expectGuestContinued(lab, 'h1', NAME, before);
  });
});
