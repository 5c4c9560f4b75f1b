// Job control from a second controller process while a (bandwidth-capped, so slow) migration runs:
// domjobinfo, migrate-setspeed, migrate-setmaxdowntime, a refused second migration (exit 5), domjobabort
// (the migrating vmig exits 1, the guest runs on the source only), and Ctrl-C during `vmig migrate`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo } from '../../src/protocol/wire.js';
import { parseEventStream, type ResultEvent } from '../../src/cli/json-events.js';
import { Lab } from '../../src/lab/lab.js';
import {
  expectCleanFailure,
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  guestStatus,
  qemuPids,
  startGuest,
} from './support.js';

const MiB = 1024 * 1024;

describe('job control', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
    await startGuest(lab, 'h1', 'g1');
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  const jobInfo = async (): Promise<JobInfo> =>
    JSON.parse(expectOk(await lab.vmig(['-c', 'h1', 'domjobinfo', 'g1', '--json'])).stdout) as JobInfo;

  it('domjobinfo / setspeed / setmaxdowntime act on the running job; a second migration is locked out (exit 5); domjobabort → exit 1, guest on the source', async () => {
    const before = await guestStatus(lab, 'h1', 'g1');
    const sourcePids = await qemuPids(lab, 'h1');
    // 60 MiB of pattern at 1 MiB/s: about a minute, far longer than this test needs.
    const migration = lab.spawnVmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct', '--bandwidth', '1', '--json'], {
      timeoutMs: 300_000,
    });
    try {
      await migration.waitForLine(/"type":"progress"/, { stream: 'stdout', timeoutMs: 60_000 });

      const info = await jobInfo();
      expect(info.active).toBe(true);
      expect(info.job).toMatchObject({ phase: 'performing' });
      expect(info.job!.migrationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(info.progress?.status).toBe('active');
      expect(info.parameters?.maxBandwidthBps).toBe(1 * MiB);
      const text = expectOk(await lab.vmig(['-c', 'h1', 'domjobinfo', 'g1'])).stdout;
      expect(text).toMatch(/^Job type:\s+Migration$/m);
      expect(text).toContain(info.job!.migrationId);
      expect(text).toMatch(/^Pass:\s+\d+$/m);
      expect(text).toMatch(/^Bandwidth cap:\s+1\.0 MiB\/s$/m);

      // A second migration of the same guest is refused, naming the job that holds it.
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']),
        5,
        new RegExp(`already being migrated by job ${info.job!.migrationId}`),
      );

      expect(expectOk(await lab.vmig(['-c', 'h1', 'migrate-setspeed', 'g1', '2'])).stdout).toMatch(
        /capped at 2 MiB\/s/,
      );
      expectOk(await lab.vmig(['-c', 'h1', 'migrate-setmaxdowntime', 'g1', '450']));
      const changed = await jobInfo();
      expect(changed.parameters).toEqual({ maxBandwidthBps: 2 * MiB, downtimeLimitMs: 450 });
      expect(changed.job!.migrationId).toBe(info.job!.migrationId);

      const aborted = expectOk(await lab.vmig(['-c', 'h1', 'domjobabort', 'g1']));
      expect(aborted.stdout).toMatch(new RegExp(`^Cancelled job ${info.job!.migrationId} of g1`));

      const result = await migration.wait();
      expect(result.exitCode, result.stderr).toBe(1);
      const final = parseEventStream(result.stdout).at(-1) as ResultEvent;
      expect(final).toMatchObject({ status: 'failed', domain: 'g1', error: { code: 'MIGRATION_ABORTED' } });
      expect(final.error!.message).toMatch(/was cancelled; g1 is still running on h1/);
    } finally {
      if (!migration.exited) migration.kill('SIGKILL');
    }
    expect(await qemuPids(lab, 'h1')).toEqual(sourcePids);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
    await expectRunsOnlyOn(lab, 'h1', 'g1');
    await expectGuestContinued(lab, 'h1', 'g1', before);
    expect((await jobInfo()).active).toBe(false);
    expectCleanFailure(await lab.vmig(['-c', 'h1', 'migrate-setspeed', 'g1', '5']), 2, /g1 has no migration job on h1/);
  });

  it('Ctrl-C during the copy cancels: exit 1, a second Ctrl-C says what it waits for, guest healthy on the source, no QEMU left on the destination', async () => {
    const before = await guestStatus(lab, 'h1', 'g1');
    const sourcePids = await qemuPids(lab, 'h1');
    const migration = lab.spawnVmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct', '--bandwidth', '1'], {
      timeoutMs: 300_000,
    });
    try {
      await migration.waitForLine(/^progress: pass/, { stream: 'stderr', timeoutMs: 60_000 });
      expect(migration.kill('SIGINT')).toBe(true);
      await migration.waitForLine(/SIGINT: cancelling the migration; g1 stays on the source/, {
        stream: 'stderr',
        timeoutMs: 10_000,
      });
      migration.kill('SIGINT');
      const result = await migration.wait();
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.signal ?? null).toBeNull();
      expect(result.stderr).toMatch(
        /^still waiting for (perform|rollback): the hosts must confirm that g1 runs on exactly one of them$/m,
      );
      expect(result.stderr).toMatch(/^vmig: error: .*g1 is still running on h1$/m);
      expect(result.stdout).toBe('');
    } finally {
      if (!migration.exited) migration.kill('SIGKILL');
    }
    expect(await qemuPids(lab, 'h1')).toEqual(sourcePids);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
    await expectRunsOnlyOn(lab, 'h1', 'g1');
    await expectGuestContinued(lab, 'h1', 'g1', before);
    // The lock was released: the guest migrates normally afterwards.
    expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']));
    await expectRunsOnlyOn(lab, 'h2', 'g1');
  });
});
