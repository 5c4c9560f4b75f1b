// `vmig evacuate` end to end: four self-checking guests leave h1 for h2 and h3, which each accept at most
// 128 MiB of guests (host.toml), so both must be used and neither may be over-committed. Then: an overlapping
// run is refused, --abort and SIGTERM stop the scheduling, and with h3 unreachable the run says exactly which
// guests could not fit and leaves them running on the source.
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvacuationReport } from '../../src/controller/evacuate-report.js';
import { Lab, type RunResult } from '../../src/lab/lab.js';
import type { GuestStatus } from '../../src/lab/guest-status.js';
import {
  expectCleanFailure,
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  guestStatus,
  listDomains,
  qemuPids,
  startGuest,
} from './support.js';

const GUESTS = ['g1', 'g2', 'g3', 'g4'];
const LIMIT_MIB = 128;
// A modest dirty rate (256 KiB per pass) keeps the guests converging even under the --bandwidth cap below.
const APPEND = 'dirty=64';

function events(result: RunResult): Array<Record<string, unknown>> {
  return result.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function reportOf(result: RunResult): EvacuationReport {
  const report = events(result).find((event) => event.type === 'report');
  expect(report, `no report in:\n${result.stdout}\n${result.stderr}`).toBeDefined();
  return report as unknown as EvacuationReport;
}

/** The source QEMU's migration capabilities and parameters while a copy runs, polled (bounded) until `applied`. */
async function settingsInFlight(
  lab: Lab,
  host: string,
  domain: string,
  applied: (capabilities: Record<string, boolean>) => boolean,
) {
  const monitor = async <T>(execute: string): Promise<T> =>
    (
      JSON.parse(
        expectOk(await lab.vmig(['-c', host, 'qemu-monitor-command', domain, JSON.stringify({ execute })])).stdout,
      ) as { return: T }
    ).return;
  let capabilities: Record<string, boolean> = {};
  for (let attempt = 0; attempt < 40 && !applied(capabilities); attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    capabilities = Object.fromEntries(
      (await monitor<Array<{ capability: string; state: boolean }>>('query-migrate-capabilities')).map((entry) => [
        entry.capability,
        entry.state,
      ]),
    );
  }
  return { capabilities, parameters: await monitor<Record<string, unknown>>('query-migrate-parameters') };
}

async function names(lab: Lab, host: string): Promise<string[]> {
  return (await listDomains(lab, host)).map((domain) => domain.name).sort();
}

describe('vmig evacuate', () => {
  let lab: Lab;
  const before = new Map<string, GuestStatus>();

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2', 'h3'] });
    for (const host of ['h2', 'h3'])
      await writeFile(join(lab.hosts[host]!.dir, 'host.toml'), `guest_memory_limit_mib = ${LIMIT_MIB}\n`);
    for (const name of GUESTS) await startGuest(lab, 'h1', name, { append: APPEND });
    for (const name of GUESTS) before.set(name, await guestStatus(lab, 'h1', name));
  }, 300_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it('--dry-run prints the plan (both destinations, within their limits) and changes nothing', async () => {
    const result = expectOk(await lab.vmig(['evacuate', 'h1', '--to', 'h2,h3', '--direct', '--dry-run']));
    expect(result.stdout).toMatch(/^Evacuation plan for h1:/m);
    for (const name of GUESTS)
      expect(result.stdout).toMatch(new RegExp(`^${name}\\s+64 MiB\\s+h[23]\\s+h[23] has \\d+ MiB free`, 'm'));
    const json = expectOk(await lab.vmig(['evacuate', 'h1', '--to', 'h2,h3', '--direct', '--dry-run', '--json']));
    const plan = events(json).find((event) => event.type === 'plan') as {
      placements: Array<{ destination: string }>;
      unplaced: unknown[];
    };
    expect(plan.unplaced).toEqual([]);
    expect(plan.placements.filter((p) => p.destination === 'h2')).toHaveLength(2);
    expect(plan.placements.filter((p) => p.destination === 'h3')).toHaveLength(2);
    expect(reportOf(json)).toMatchObject({ status: 'dry-run', exitCode: 0 });
    expect(await names(lab, 'h1')).toEqual(GUESTS);
    expect(await names(lab, 'h2')).toEqual([]);
    expect(await names(lab, 'h3')).toEqual([]);
    // Not even the lock was taken.
    await expect(access(join(lab.hosts.h1!.stateDir, 'locks', '@evacuation.lock'))).rejects.toThrow();
  });

  it('moves all four guests to h2 and h3 intact (default transport), never over a limit, and refuses an overlapping run (exit 5)', async () => {
    // The default (encrypted) transport: two streams at once share each host's one SSH connection.
    const run = lab.spawnVmig(['evacuate', 'h1', '--to', 'h2,h3', '--max-parallel', '2', '--json'], {
      timeoutMs: 300_000,
    });
    await run.waitForLine(/"status":"migrating"/, { stream: 'stdout', timeoutMs: 60_000 });
    const overlapping = await lab.vmig(['evacuate', 'h1', '--to', 'h2,h3', '--direct'], { timeoutMs: 60_000 });
    expectCleanFailure(overlapping, 5, /h1 is already being evacuated by job [0-9a-f-]+ \(controller /);

    const result = await run.wait();
    expect(result.exitCode, result.stderr).toBe(0);
    const report = reportOf(result);
    expect(report).toMatchObject({
      status: 'evacuated',
      exitCode: 0,
      summary: { total: 4, migrated: 4, remainingOnSource: [] },
    });
    // The planner respected the limits: no guest needed a second attempt.
    for (const guest of report.guests) expect(guest.attempts).toHaveLength(1);
    const placed = Object.fromEntries(report.guests.map((guest) => [guest.domain, guest.finalHost]));
    expect(Object.values(placed).sort()).toEqual(['h2', 'h2', 'h3', 'h3']);
    for (const name of GUESTS) {
      expect(placed[name]).toBe(report.guests.find((guest) => guest.domain === name)!.destination);
      await expectRunsOnlyOn(lab, placed[name]!, name);
      before.set(name, await expectGuestContinued(lab, placed[name]!, name, before.get(name)!));
    }
    expect(await names(lab, 'h1')).toEqual([]);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    // One line per guest per state change went to the log (NDJSON here), and the lock is gone.
    expect(events(result).filter((event) => event.type === 'guest' && event.status === 'migrated')).toHaveLength(4);
    await expect(access(join(lab.hosts.h1!.stateDir, 'locks', '@evacuation.lock'))).rejects.toThrow();
  });

  it('stops scheduling on `vmig evacuate SRC --abort` and on SIGTERM; the guest in flight finishes, the rest stay', async () => {
    // h2 → h1 one at a time (capped, so the first copy outlasts the abort), aborted from another shell.
    const fromH2 = await names(lab, 'h2');
    const aborted = lab.spawnVmig(
      ['evacuate', 'h2', '--to', 'h1', '--max-parallel', '1', '--direct', '--bandwidth', '8', '--json'],
      { timeoutMs: 300_000 },
    );
    await aborted.waitForLine(/"status":"migrating"/, { stream: 'stdout', timeoutMs: 60_000 });
    expect(expectOk(await lab.vmig(['evacuate', 'h2', '--abort'])).stdout).toMatch(
      /^Asked evacuation [0-9a-f-]+ of h2 to stop/,
    );
    const abortedResult = await aborted.wait();
    expect(abortedResult.exitCode, abortedResult.stderr).toBe(6);
    const abortedReport = reportOf(abortedResult);
    expect(abortedReport.aborted).toMatch(/--abort/);
    expect(abortedReport.guests.map((guest) => guest.status).sort()).toEqual(['migrated', 'not-started']);
    expect(abortedResult.stderr).toMatch(/^vmig: error: h2 not evacuated \(aborted by vmig evacuate --abort/m);
    expect(expectOk(await lab.vmig(['evacuate', 'h2', '--to', 'h1', '--direct'])).stdout).toMatch(
      /^h2 evacuated: 1 of 1 guests moved/m,
    );

    // h3 → h1, stopped by SIGTERM (as cron or systemd would) after the first guest started.
    const fromH3 = await names(lab, 'h3');
    const terminated = lab.spawnVmig(
      ['evacuate', 'h3', '--to', 'h1', '--max-parallel', '1', '--direct', '--bandwidth', '8'],
      { timeoutMs: 300_000 },
    );
    await terminated.waitForLine(/^g\d: migrating to h1/, { stream: 'stderr', timeoutMs: 60_000 });
    terminated.kill('SIGTERM');
    const terminatedResult = await terminated.wait();
    expect(terminatedResult.exitCode, terminatedResult.stderr).toBe(6);
    expect(terminatedResult.stderr).toMatch(/^SIGTERM: starting no new migrations/m);
    expect(terminatedResult.stderr).toMatch(/^g\d: not started \(interrupted\)/m);
    expect(terminatedResult.stdout).toMatch(/^g\d\s+migrated\s+h1/m);
    expectOk(await lab.vmig(['evacuate', 'h3', '--to', 'h1', '--direct']));

    expect(await names(lab, 'h1')).toEqual([...fromH2, ...fromH3].sort());
    for (const name of GUESTS) before.set(name, await expectGuestContinued(lab, 'h1', name, before.get(name)!));
  });

  it('passes the per-guest options it shares with migrate on to QEMU (--compressed, --auto-converge-initial)', async () => {
    // One guest, capped at 1 MiB/s so that its copy lasts while the source QEMU is read, then cancelled.
    const guest = GUESTS[0]!;
    const run = lab.spawnVmig(
      [
        'evacuate',
        'h1',
        '--to',
        'h2',
        '--only',
        guest,
        '--direct',
        '--bandwidth',
        '1',
        '--compressed',
        '--auto-converge',
        '--auto-converge-initial',
        '40',
        '--json',
      ],
      { timeoutMs: 300_000 },
    );
    try {
      await run.waitForLine(/"status":"migrating"/, { stream: 'stdout', timeoutMs: 60_000 });
      const seen = await settingsInFlight(lab, 'h1', guest, (capabilities) => capabilities.xbzrle === true);
      expect(seen.capabilities).toMatchObject({ xbzrle: true, 'auto-converge': true, multifd: false });
      expect(seen.parameters).toMatchObject({ 'cpu-throttle-initial': 40, 'max-bandwidth': 1024 * 1024 });
      expectOk(await lab.vmig(['-c', 'h1', 'domjobabort', guest]));
    } catch (error) {
      run.kill('SIGKILL');
      throw error;
    }
    const result = await run.wait();
    expect(result.exitCode, result.stderr).toBe(6);
    expect(reportOf(result).guests.find((entry) => entry.domain === guest)).toMatchObject({
      status: 'failed',
      finalHost: 'h1',
      error: { code: 'MIGRATION_ABORTED' },
    });
    await expectRunsOnlyOn(lab, 'h1', guest);
    before.set(guest, await expectGuestContinued(lab, 'h1', guest, before.get(guest)!));
  });

  it('with h3 unreachable, fills h2 up to its limit and names exactly the guests that could not fit (exit 6)', async () => {
    await lab.stopSshd('h3');
    const result = await lab.vmig(['evacuate', 'h1', '--to', 'h2,h3', '--direct', '--json']);
    expect(result.exitCode, result.stderr).toBe(6);
    const report = reportOf(result);
    expect(report.status).toBe('partial');
    const migrated = report.guests.filter((guest) => guest.status === 'migrated');
    const unplaced = report.guests.filter((guest) => guest.status === 'unplaced');
    expect(migrated.map((guest) => guest.finalHost)).toEqual(['h2', 'h2']);
    expect(unplaced).toHaveLength(2);
    for (const guest of unplaced) {
      expect(guest.reason).toMatch(/^no destination has room for 64 MiB \(h2 has 0 MiB free; h3 is unreachable/);
      expect(guest.finalHost).toBe('h1');
    }
    expect(report.summary.remainingOnSource).toEqual(unplaced.map((guest) => guest.domain).sort());
    expect(result.stderr).toMatch(
      new RegExp(
        `^vmig: error: h1 not evacuated: 2 of 4 guests moved, still on h1: ${report.summary.remainingOnSource!.join(', ')}`,
        'm',
      ),
    );
    for (const guest of migrated) await expectGuestContinued(lab, 'h2', guest.domain, before.get(guest.domain)!);
    for (const guest of unplaced) await expectGuestContinued(lab, 'h1', guest.domain, before.get(guest.domain)!);
    expect(await names(lab, 'h2')).toHaveLength(LIMIT_MIB / 64);
  });
});
