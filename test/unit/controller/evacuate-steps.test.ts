import { describe, expect, it } from 'vitest';
import {
  afterFailure,
  destinationRows,
  destinationsProblem,
  MAX_ATTEMPTS,
  obstacle,
  openLedger,
  placeGuests,
  planEvacuation,
  sameHostProblem,
  selectGuests,
} from '../../../src/controller/evacuate-plan.js';
import { plannedReports, recordFailure, recordMigrated } from '../../../src/controller/evacuate-report.js';
import { guest, host } from './evacuate-fixtures.js';

const twoHosts = () => [host('h2', { guestMemoryLimitMiB: 128 }), host('h3', { guestMemoryLimitMiB: 128 })];

describe('the placement steps', () => {
  it('openLedger books each usable destination once and keeps why the others are left out', () => {
    const plan = openLedger([host('h2', { guestMemoryLimitMiB: 128 }), host('h3', { unusable: 'is unreachable' })]);
    expect(plan.ledger).toEqual(new Map([['h2', 128]]));
    expect(plan.unusable).toEqual(new Map([['h3', 'is unreachable']]));
    expect(plan.placements).toEqual([]);
  });

  it('selectGuests orders the candidates largest first (then by name) and skips the rest with a reason', () => {
    const { candidates, skipped } = selectGuests(
      [guest('b', 64), guest('a', 64), guest('big', 256), guest('new', 32, 'incoming'), guest('x')],
      { exclude: ['x'] },
    );
    expect(candidates.map((g) => g.name)).toEqual(['big', 'a', 'b']);
    expect(skipped.map((s) => s.guest.name)).toEqual(['new', 'x']);
  });

  it('placeGuests keeps the given order, books as it goes and leaves what does not fit unplaced', () => {
    const plan = openLedger(twoHosts());
    placeGuests(plan, [guest('a', 128), guest('b', 128), guest('c', 64)]);
    expect(plan.placements.map((p) => [p.guest.name, p.destination])).toEqual([
      ['a', 'h2'],
      ['b', 'h3'],
    ]);
    expect(plan.unplaced.map((u) => u.guest.name)).toEqual(['c']);
    expect(planEvacuation([guest('a', 128), guest('b', 128), guest('c', 64)], twoHosts()).placements).toEqual(
      plan.placements,
    );
  });

  it('obstacle names the one reason a destination cannot take a guest, or none', () => {
    const plan = openLedger([host('h2', { guestMemoryLimitMiB: 128, guests: [{ name: 'web', memoryMiB: 0 }] })]);
    expect(obstacle(plan, guest('a'), 'h2')).toBeUndefined();
    expect(obstacle(plan, guest('a'), 'h2', new Set(['h2']))).toBe('h2 already failed');
    expect(obstacle(plan, guest('web'), 'h2')).toBe('h2 already runs a guest named web');
    expect(obstacle(plan, guest('a', 256), 'h2')).toBe('h2 has 128 MiB free');
  });

  it('destinationRows shows each --to host with its free memory after the plan, or why it is unused', () => {
    const facts = [host('h2', { guestMemoryLimitMiB: 128 }), host('h3', { unusable: 'is the source host itself' })];
    const plan = planEvacuation([guest('a')], facts);
    expect(destinationRows(plan, facts)).toEqual([
      { host: 'h2', freeMiB: 64 },
      { host: 'h3', freeMiB: null, unusable: 'is the source host itself' },
    ]);
  });
});

describe('the --to checks', () => {
  it('refuses a host named twice and the source itself, before connecting', () => {
    expect(destinationsProblem('h1', ['h2', 'h3'])).toBeUndefined();
    expect(destinationsProblem('h1', ['h2', 'h3', 'h2'])).toEqual({ code: 'USAGE', message: '--to names h2 twice' });
    expect(destinationsProblem('h1', ['h2', 'h1'])).toEqual({
      code: 'SAME_HOST',
      message: '--to names the source h1 itself',
    });
  });

  it('leaves out a host that answers with the source host id or with another --to host id', () => {
    expect(sameHostProblem('id2', 'id1', [])).toBeUndefined();
    expect(sameHostProblem('id1', 'id1', [])).toBe('is the source host itself');
    expect(sameHostProblem('id2', 'id1', ['id3', 'id2'])).toBe('is the same host as another --to destination');
  });
});

describe('afterFailure', () => {
  const failure = (over: Partial<Parameters<typeof afterFailure>[2]> = {}) => ({
    code: 'MIGRATION_FAILED',
    failedOn: 'h2',
    attempt: 1,
    tried: new Set(['h2']),
    stopped: false,
    ...over,
  });

  it('retries once on another destination that fits, moving the booking there', () => {
    const plan = planEvacuation([guest('a')], twoHosts());
    const first = plan.placements[0]!.destination;
    const other = first === 'h2' ? 'h3' : 'h2';
    expect(afterFailure(plan, guest('a'), failure({ failedOn: first, tried: new Set([first]) }))).toEqual({
      kind: 'retry',
      destination: other,
    });
    expect(plan.ledger.get(first)).toBe(128);
    expect(plan.ledger.get(other)).toBe(64);
  });

  it('stops at needs-recovery, without touching the plan (the guest may be on the destination)', () => {
    const plan = planEvacuation([guest('a')], twoHosts());
    const ledger = new Map(plan.ledger);
    expect(afterFailure(plan, guest('a'), failure({ code: 'NEEDS_RECOVERY', lost: 'connection lost' }))).toEqual({
      kind: 'needs-recovery',
    });
    expect(plan.ledger).toEqual(ledger);
    expect(plan.unusable.size).toBe(0);
  });

  it('fails without retry after the last attempt, for codes another host would not cure, or once stopped', () => {
    for (const over of [
      { attempt: MAX_ATTEMPTS },
      { code: 'DOMAIN_NOT_FOUND' },
      { code: 'LOCKED' },
      { code: 'MIGRATION_ABORTED' },
      { stopped: true },
    ]) {
      const plan = planEvacuation([guest('a')], twoHosts());
      expect(afterFailure(plan, guest('a'), failure(over))).toEqual({ kind: 'failed' });
    }
  });

  it('fails with the reason when no other destination fits', () => {
    const plan = planEvacuation([guest('a')], [host('h2', { guestMemoryLimitMiB: 128 })]);
    expect(afterFailure(plan, guest('a'), failure())).toEqual({
      kind: 'failed',
      notRetried: 'no destination has room for 64 MiB (h2 already failed)',
    });
  });

  it('marks a destination whose connection was lost unusable, so the retry goes elsewhere and names why', () => {
    const plan = planEvacuation([guest('a')], [host('h2', { memAvailableMiB: 99_999 }), host('h3')]);
    expect(plan.placements[0]!.destination).toBe('h2');
    const next = afterFailure(plan, guest('a'), failure({ lost: 'connection lost (EOF)' }));
    expect(next).toEqual({ kind: 'retry', destination: 'h3' });
    expect(plan.ledger.has('h2')).toBe(false);
    expect(plan.unusable.get('h2')).toBe('connection lost (EOF)');
  });
});

describe('the report rows', () => {
  it('plannedReports lists skipped, unplaced, then placed guests, each row ready for the run', () => {
    const plan = planEvacuation(
      [guest('a', 128), guest('b', 128), guest('skip')],
      [host('h2', { guestMemoryLimitMiB: 128 })],
      { exclude: ['skip'] },
    );
    const { reports, unplaced, placed } = plannedReports(plan);
    expect(reports.map((r) => [r.domain, r.status, r.destination])).toEqual([
      ['skip', 'skipped', null],
      ['b', 'unplaced', null],
      ['a', 'planned', 'h2'],
    ]);
    expect(unplaced.map((r) => r.domain)).toEqual(['b']);
    expect(placed.map((p) => [p.guest.name, p.destination, p.report === reports[2]])).toEqual([['a', 'h2', true]]);
    expect(reports[0]).toMatchObject({ reason: 'excluded by --exclude skip', attempts: [], error: null, timeMs: 0 });
  });

  it('records a failed attempt then a migrated one, keeping the first error in the attempts', () => {
    const { placed } = plannedReports(planEvacuation([guest('a')], twoHosts()));
    const report = placed[0]!.report;
    const error = { code: 'MIGRATION_FAILED', message: 'boom' };
    recordFailure(report, 'h2', error, 100, 150);
    expect(report).toMatchObject({ error, timeMs: 150, attempts: [{ destination: 'h2', status: 'failed', error }] });
    recordFailure(report, 'h3', { code: 'NEEDS_RECOVERY', message: 'lost' }, 10, 200);
    expect(report.attempts[1]).toMatchObject({ status: 'needs-recovery' });
    recordMigrated(report, 'h3', 300, 500);
    expect(report).toMatchObject({ status: 'migrated', timeMs: 500 });
    expect(report.attempts.map((a) => a.status)).toEqual(['failed', 'needs-recovery', 'migrated']);
    expect(report.reason).toBeUndefined();
  });
});
