import { describe, expect, it } from 'vitest';
import { describeOutcome, finishReport, type GuestReport } from '../../../src/controller/evacuate-report.js';
import { VmigError } from '../../../src/errors.js';

const guest = (domain: string, status: GuestReport['status'], destination: string | null = 'h2'): GuestReport => ({
  domain,
  memoryMiB: 64,
  status,
  destination,
  finalHost: null,
  timeMs: 1000,
  attempts: [],
  error: null,
});

const base = {
  jobId: 'job',
  source: 'h1',
  destinations: ['h2', 'h3'],
  dryRun: false,
  aborted: null,
  sourceLabel: 'h1',
  skippedNames: new Set<string>(),
  timeMs: 5000,
};

describe('finishReport', () => {
  it('is 0 and "evacuated" only when every guest moved and the source, read back, runs none', () => {
    const report = finishReport({
      ...base,
      guests: [guest('a', 'migrated'), guest('b', 'migrated', 'h3')],
      readBack: new Map([
        ['a', ['h2']],
        ['b', ['h3']],
      ]),
    });
    expect(report).toMatchObject({
      status: 'evacuated',
      exitCode: 0,
      summary: { total: 2, migrated: 2, remainingOnSource: [] },
    });
    expect(report.guests.map((g) => g.finalHost)).toEqual(['h2', 'h3']);
    expect(describeOutcome(report)).toBe('h1 evacuated: 2 of 2 guests moved, it runs none of them any more');
  });

  it('is partial (6) when a guest is still read back on the source, even if our bookkeeping said migrated', () => {
    const report = finishReport({
      ...base,
      guests: [guest('a', 'migrated')],
      readBack: new Map([
        ['a', ['h1']],
        ['late', ['h1']],
      ]),
    });
    expect(report).toMatchObject({ status: 'partial', exitCode: 6 });
    expect(report.summary.remainingOnSource).toEqual(['a', 'late']);
    expect(describeOutcome(report)).toMatch(/^h1 not evacuated: 1 of 1 guests moved, still on h1: a, late/);
  });

  it('is partial when a guest could not be placed, and names it and why', () => {
    const unplaced = {
      ...guest('c', 'unplaced', null),
      reason: 'no destination has room for 64 MiB (h2 has 0 MiB free)',
    };
    const report = finishReport({
      ...base,
      guests: [guest('a', 'migrated'), unplaced],
      readBack: new Map([
        ['a', ['h2']],
        ['c', ['h1']],
      ]),
    });
    expect(report.exitCode).toBe(6);
    expect(describeOutcome(report)).toContain('c unplaced: no destination has room for 64 MiB');
  });

  it('ignores guests the filters left on the source on purpose', () => {
    const report = finishReport({
      ...base,
      guests: [guest('a', 'migrated'), guest('keep', 'skipped', null)],
      skippedNames: new Set(['keep']),
      readBack: new Map([
        ['a', ['h2']],
        ['keep', ['h1']],
      ]),
    });
    expect(report).toMatchObject({ status: 'evacuated', exitCode: 0, summary: { skipped: 1, remainingOnSource: [] } });
  });

  it('is 4 when a guest needs recovery or the source could not be read back', () => {
    expect(finishReport({ ...base, guests: [guest('a', 'needs-recovery')], readBack: new Map() }).exitCode).toBe(4);
    const unread = finishReport({ ...base, guests: [guest('a', 'migrated')], readBack: undefined });
    expect(unread).toMatchObject({ status: 'needs-recovery', exitCode: 4, summary: { remainingOnSource: null } });
    expect(describeOutcome(unread)).toMatch(/could not be read back .*vmig -c h1 list/);
  });

  it('has its own exit code, distinct from a failed single migration (1) and a lock (5)', () => {
    expect(new VmigError('PARTIAL', 'h1 not evacuated').exitCode).toBe(6);
  });

  it('a dry run exits 0 and says nothing changed', () => {
    const report = finishReport({ ...base, dryRun: true, guests: [guest('a', 'planned')], readBack: undefined });
    expect(report).toMatchObject({ status: 'dry-run', exitCode: 0 });
    expect(describeOutcome(report)).toBe('dry run: nothing was changed');
  });
});
