import { describe, expect, it } from 'vitest';
import {
  chooseDestination,
  freeMiB,
  globToRegExp,
  markUnusable,
  planEvacuation,
  planRetry,
  release,
  reserve,
  selectedBy,
} from '../../../src/controller/evacuate-plan.js';
import { guest, host } from './evacuate-fixtures.js';

const four = ['g1', 'g2', 'g3', 'g4'].map((name) => guest(name));
const where = (plan: ReturnType<typeof planEvacuation>) =>
  Object.fromEntries(plan.placements.map((p) => [p.guest.name, p.destination]));

describe('freeMiB', () => {
  it('is the tighter of the guest-memory limit and available RAM minus headroom', () => {
    expect(freeMiB(host('h2', { guestMemoryLimitMiB: 128 }))).toBe(128);
    expect(freeMiB(host('h2', { guestMemoryLimitMiB: 128, guests: [{ name: 'x', memoryMiB: 100 }] }))).toBe(28);
    expect(freeMiB(host('h2', { memAvailableMiB: 1000, hostHeadroomMiB: 64 }))).toBe(936);
    expect(freeMiB(host('h2', { memAvailableMiB: 1000, hostHeadroomMiB: 64, guestMemoryLimitMiB: 4096 }))).toBe(936);
  });

  it('uses the larger of the run headroom and the host headroom, and never goes negative', () => {
    expect(freeMiB(host('h2', { memAvailableMiB: 1000, hostHeadroomMiB: 64 }), 200)).toBe(800);
    expect(freeMiB(host('h2', { memAvailableMiB: 1000, hostHeadroomMiB: 300 }), 200)).toBe(700);
    expect(freeMiB(host('h2', { memAvailableMiB: 10 }))).toBe(0);
    expect(freeMiB(host('h2', { guestMemoryLimitMiB: 64, guests: [{ name: 'x', memoryMiB: 128 }] }))).toBe(0);
  });
});

describe('planEvacuation', () => {
  it('spreads four 64 MiB guests over two hosts that each accept 128 MiB', () => {
    const plan = planEvacuation(four, [
      host('h2', { guestMemoryLimitMiB: 128 }),
      host('h3', { guestMemoryLimitMiB: 128 }),
    ]);
    expect(plan.unplaced).toEqual([]);
    const placed = Object.values(where(plan));
    expect(placed.filter((h) => h === 'h2')).toHaveLength(2);
    expect(placed.filter((h) => h === 'h3')).toHaveLength(2);
    expect(plan.ledger).toEqual(
      new Map([
        ['h2', 0],
        ['h3', 0],
      ]),
    );
    for (const placement of plan.placements)
      expect(placement.reason).toMatch(new RegExp(`^${placement.destination} has \\d+ MiB free`));
  });

  it('never over-commits: what does not fit is unplaced, with a reason naming every destination', () => {
    const plan = planEvacuation(four, [
      host('h2', { guestMemoryLimitMiB: 128 }),
      host('h3', { unusable: 'is unreachable (connection refused)' }),
    ]);
    expect(plan.placements.map((p) => p.destination)).toEqual(['h2', 'h2']);
    expect(plan.unplaced.map((u) => u.guest.name)).toEqual(['g3', 'g4']);
    expect(plan.unplaced[0]!.reason).toBe(
      'no destination has room for 64 MiB (h2 has 0 MiB free; h3 is unreachable (connection refused))',
    );
    expect(plan.ledger.get('h2')).toBe(0);
  });

  it('places the largest guests first, so a big one is not crowded out by small ones', () => {
    const plan = planEvacuation(
      [guest('small1', 64), guest('big', 192), guest('small2', 64)],
      [host('h2', { guestMemoryLimitMiB: 192 }), host('h3', { guestMemoryLimitMiB: 128 })],
    );
    expect(where(plan)).toEqual({ big: 'h2', small1: 'h3', small2: 'h3' });
    expect(plan.placements.map((p) => p.guest.name)).toEqual(['big', 'small1', 'small2']);
  });

  it('counts guests a destination already runs and respects the run headroom', () => {
    const plan = planEvacuation(
      four,
      [host('h2', { memAvailableMiB: 400, hostHeadroomMiB: 0, guests: [{ name: 'other', memoryMiB: 32 }] })],
      { headroomMiB: 200 },
    );
    // 400 - 200 headroom = 200 MiB: three 64 MiB guests, not four.
    expect(plan.placements).toHaveLength(3);
    expect(plan.unplaced.map((u) => u.guest.name)).toEqual(['g4']);
  });

  it('never sends a guest where its name is already taken', () => {
    const plan = planEvacuation([guest('web')], [host('h2', { guests: [{ name: 'web', memoryMiB: 64 }] }), host('h3')]);
    expect(where(plan)).toEqual({ web: 'h3' });
    const none = planEvacuation([guest('web')], [host('h2', { guests: [{ name: 'web', memoryMiB: 64 }] })]);
    expect(none.unplaced[0]!.reason).toMatch(/h2 already runs a guest named web/);
  });

  it('matches host names exactly: h2 and h20 are different hosts, and a name is not a pattern', () => {
    const plan = planEvacuation(
      [guest('a'), guest('b')],
      [
        host('h2', { guestMemoryLimitMiB: 64, guests: [{ name: 'a', memoryMiB: 0 }] }),
        host('h20', { guestMemoryLimitMiB: 64 }),
        host('h*', { unusable: 'is unreachable' }),
      ],
    );
    expect(where(plan)).toEqual({ a: 'h20', b: 'h2' });
    expect(plan.ledger.has('h*')).toBe(false);
    expect([...plan.ledger.keys()]).toEqual(['h2', 'h20']);
  });

  it('ignores a destination named twice and breaks ties in --to order', () => {
    const plan = planEvacuation([guest('a')], [host('h3'), host('h2'), host('h3', { memAvailableMiB: 99_999 })]);
    expect(where(plan)).toEqual({ a: 'h3' });
    expect([...plan.ledger.keys()]).toEqual(['h3', 'h2']);
  });

  it('skips guests filtered out by --only/--exclude and guests still arriving', () => {
    const guests = [guest('web1'), guest('web2'), guest('db1'), guest('tmp', 64, 'incoming')];
    const plan = planEvacuation(guests, [host('h2')], { only: ['web*', 'tmp'], exclude: ['web2'] });
    expect(plan.placements.map((p) => p.guest.name)).toEqual(['web1']);
    expect(plan.skipped.map((s) => [s.guest.name, s.reason])).toEqual([
      ['web2', 'excluded by --exclude web2'],
      ['db1', 'not matched by --only web*,tmp'],
      ['tmp', 'still arriving from another migration'],
    ]);
  });

  it('plans nothing for an empty source or without destinations', () => {
    expect(planEvacuation([], [host('h2')]).placements).toEqual([]);
    const plan = planEvacuation([guest('a')], []);
    expect(plan.unplaced[0]!.reason).toBe('no destination has room for 64 MiB (no destinations)');
  });
});

describe('in-flight accounting and retry', () => {
  it('reserve and release move memory and name bookings in the ledger', () => {
    const plan = planEvacuation([], [host('h2', { guestMemoryLimitMiB: 128 })]);
    reserve(plan, guest('a'), 'h2');
    reserve(plan, guest('b'), 'h2');
    expect(chooseDestination(plan, guest('c'))).toBeUndefined();
    release(plan, guest('a'), 'h2');
    expect(chooseDestination(plan, guest('c'))?.destination).toBe('h2');
    expect(plan.taken.get('h2')).toEqual(new Set(['b']));
    release(plan, guest('x'), 'nowhere');
    expect(plan.ledger.has('nowhere')).toBe(false);
  });

  it('retries a failed guest once on another destination that fits, never on one already tried', () => {
    const plan = planEvacuation(
      [guest('a'), guest('b')],
      [host('h2', { guestMemoryLimitMiB: 128 }), host('h3', { guestMemoryLimitMiB: 128 })],
    );
    const first = where(plan).a!;
    const other = first === 'h2' ? 'h3' : 'h2';
    const retry = planRetry(plan, guest('a'), new Set([first]), first);
    expect(retry).toMatchObject({ destination: other });
    // a's booking moved: freed on the failed host, taken on the other.
    expect(plan.ledger.get(first)).toBe(128 - (where(plan).b === first ? 64 : 0));
    expect(plan.ledger.get(other)).toBe(128 - 64 - (where(plan).b === other ? 64 : 0));
    // Both tried: no third attempt.
    const again = planRetry(plan, guest('a'), new Set(['h2', 'h3']), other);
    expect(again).toEqual({ reason: expect.stringMatching(/h2 already failed; h3 already failed/) });
  });

  it('does not retry onto a destination that in-flight migrations have filled', () => {
    const plan = planEvacuation(four, [
      host('h2', { guestMemoryLimitMiB: 128 }),
      host('h3', { guestMemoryLimitMiB: 128 }),
    ]);
    const failedOn = where(plan).g1!;
    const retry = planRetry(plan, guest('g1'), new Set([failedOn]), failedOn);
    expect(retry).toEqual({ reason: expect.stringMatching(/no destination has room for 64 MiB .*has 0 MiB free/) });
  });

  it('leaves a destination lost mid-run out of every later choice', () => {
    const plan = planEvacuation([guest('a')], [host('h2'), host('h3', { memAvailableMiB: 1024 })]);
    markUnusable(plan, 'h2', 'connection lost');
    expect(planRetry(plan, guest('a'), new Set(['h2']), 'h2')).toMatchObject({ destination: 'h3' });
    expect(chooseDestination(plan, guest('z'), new Set(['h3']))).toBeUndefined();
  });
});

describe('guest name globs', () => {
  it('supports * and ? anchored, and treats other characters literally', () => {
    expect(globToRegExp('web*').test('web12')).toBe(true);
    expect(globToRegExp('web*').test('myweb1')).toBe(false);
    expect(globToRegExp('db?').test('db1')).toBe(true);
    expect(globToRegExp('db?').test('db12')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('a.b').test('a.b')).toBe(true);
  });

  it('selects by --only then --exclude', () => {
    expect(selectedBy('web1')).toBeUndefined();
    expect(selectedBy('web1', ['db*'])).toMatch(/not matched/);
    expect(selectedBy('web1', [], ['web?'])).toBe('excluded by --exclude web?');
  });
});
