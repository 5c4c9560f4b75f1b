import { describe, expect, it } from 'vitest';
import type { QueryMigrate } from '../../../src/qemu/migration-stats.js';
import {
  initialDowntime,
  initialState,
  nextStep,
  type Action,
  type PolicyOptions,
  type PolicyState,
} from '../../../src/qemu/perform-policy.js';

const GiB = 1024 ** 3;
const base: PolicyOptions = { name: 'web1', stallTimeoutMs: 30_000, convergence: {} };

/** A query-migrate reply of an active stream at pass `pass`. */
function active(pass: number, transferred: number, remaining: number, status = 'active'): QueryMigrate {
  return {
    status,
    'total-time': 1000,
    ram: { transferred, remaining, total: GiB, 'dirty-sync-count': pass, mbps: 800 },
  };
}

/** Runs the policy over a list of observations (one per second from t0), collecting every action. */
function run(options: PolicyOptions, replies: QueryMigrate[], { t0 = 0, stepMs = 1000, gone = false } = {}) {
  let state = initialState(options, t0);
  const all: Action[][] = [];
  replies.forEach((reply, index) => {
    const step = nextStep(state, { now: t0 + (index + 1) * stepMs, reply, controllerGone: gone }, options);
    state = step.state;
    all.push(step.actions);
  });
  return { state, all, last: all.at(-1)!, kinds: all.map((actions) => actions.map((action) => action.kind)) };
}

const kindsOf = (actions: Action[]) => actions.map((action) => action.kind);
const failure = (actions: Action[]) =>
  actions.find((action) => action.kind === 'fail') as Extract<Action, { kind: 'fail' }> | undefined;

/** Passes whose remaining bytes never shrink while bytes keep moving: a guest that does not converge. */
const notConverging = (passes: number, from = 1) =>
  Array.from({ length: passes }, (_, index) => active(from + index, (from + index) * GiB, GiB / 2));

describe('perform policy: the ordinary path', () => {
  it('reports progress at each look and finishes when QEMU completes', () => {
    const { kinds } = run(base, [
      active(1, 100, 900),
      active(1, 500, 500),
      { status: 'completed', 'total-time': 2000 },
    ]);
    expect(kinds).toEqual([['progress'], ['progress'], ['complete']]);
  });

  it('leaves the state it was given unchanged (a new state each step)', () => {
    const state = initialState(base, 0);
    const copy = structuredClone(state);
    nextStep(state, { now: 1000, reply: active(3, 100, 900), controllerGone: false }, base);
    expect(state).toEqual(copy);
  });

  it('waits for QEMU to start the stream, within the stall timeout', () => {
    const none: QueryMigrate = {};
    expect(run(base, [none]).kinds).toEqual([['wait-start']]);
    const late = run(base, [none], { stepMs: 31_000 });
    expect(failure(late.last)).toEqual({
      kind: 'fail',
      rollback: 'cancel',
      code: 'MIGRATION_FAILED',
      message: 'QEMU did not start the migration stream of web1 within 30 s',
    });
  });

  it('does not take a migrated-in QEMU\'s old "completed" for the end of this stream', () => {
    expect(run(base, [{ status: 'completed' }]).kinds).toEqual([['wait-start']]);
  });

  it('restores the source when the stream fails or is cancelled, naming the tunnel failure', () => {
    let state = initialState(base, 0);
    const failed = nextStep(
      state,
      {
        now: 1,
        reply: { status: 'failed', 'error-desc': 'Broken pipe' },
        controllerGone: false,
        tunnelFailure: 'TLS: bad record',
      },
      base,
    );
    expect(failed.actions).toEqual([
      {
        kind: 'fail',
        rollback: 'restore',
        code: 'MIGRATION_FAILED',
        message: 'the migration stream of web1 failed: Broken pipe (TLS: bad record)',
      },
    ]);
    state = initialState(base, 0);
    const cancelled = nextStep(
      state,
      { now: 1, reply: { status: 'cancelled', 'total-time': 5 }, controllerGone: false },
      base,
    );
    expect(failure(cancelled.actions)).toMatchObject({
      rollback: 'restore',
      code: 'MIGRATION_ABORTED',
      message: 'the migration stream of web1 was cancelled',
    });
  });

  it('stops watching, without rolling back, when the controller is gone', () => {
    const { last } = run(base, [active(1, 100, 900)], { gone: true });
    expect(kindsOf(last)).toEqual(['progress', 'fail']);
    expect(failure(last)).toMatchObject({ rollback: 'none', code: 'MIGRATION_ABORTED' });
  });
});

describe('perform policy: stalled vs not converging', () => {
  it('a stream that moves no byte for the stall timeout is cancelled and the source restored', () => {
    const replies = Array.from({ length: 32 }, () => active(1, 5000, 900));
    const { kinds, last } = run(base, replies);
    expect(kinds.slice(0, 30).every((actions) => actions.join() === 'progress')).toBe(true);
    expect(failure(last)).toEqual({
      kind: 'fail',
      rollback: 'cancel',
      code: 'MIGRATION_FAILED',
      message:
        'the migration stream of web1 moved no data for 30 s: the destination or the network to it stopped answering',
    });
  });

  it('a stream that keeps moving but never converges is warned about once, never failed', () => {
    const { all } = run(base, notConverging(12));
    const warnings = all.flat().filter((action) => action.kind === 'warn');
    expect(warnings).toHaveLength(1);
    expect((warnings[0] as { message: string }).message).toMatch(
      /^web1 is not converging: .*consider --auto-converge, --postcopy-after-precopy, --timeout with --timeout-action suspend/,
    );
    expect(all.flat().some((action) => action.kind === 'fail')).toBe(false);
  });

  it('a shrinking stream is neither warned about nor failed', () => {
    const shrinking = Array.from({ length: 10 }, (_, index) =>
      active(index + 1, (index + 1) * GiB, GiB / 2 ** (index + 1)),
    );
    expect(run(base, shrinking).kinds.flat()).toEqual(Array(10).fill('progress'));
  });
});

describe('perform policy: --downtime-steps', () => {
  const options: PolicyOptions = { ...base, maxDowntimeMs: 900, convergence: { downtimeSteps: 3 } };

  it('starts at the first step', () => {
    expect(initialDowntime(options)).toBe(300);
    expect(initialDowntime({ ...base, maxDowntimeMs: 900 })).toBe(900);
    expect(initialDowntime(base)).toBeUndefined();
  });

  it('allows the next limit each time the copy stops converging, up to --max-downtime, then stops stepping', () => {
    const { all, state } = run(options, notConverging(16));
    const limits = all
      .flat()
      .filter((action) => action.kind === 'set-downtime')
      .map((action) => (action as { limitMs: number }).limitMs);
    expect(limits).toEqual([600, 900]);
    expect(state.downtimeStep).toBe(2);
    const messages = all
      .flat()
      .filter((action) => action.kind === 'warn')
      .map((action) => (action as { message: string }).message);
    expect(messages).toContain(
      'web1: not converging with 300 ms of downtime; allowing 600 ms (--downtime-steps, step 2 of 3)',
    );
    expect(messages).toContain(
      'web1: not converging with 600 ms of downtime; allowing 900 ms (--downtime-steps, step 3 of 3)',
    );
  });

  it('sets the new limit before it says so', () => {
    const { all } = run(options, notConverging(5));
    const step = all.find((actions) => actions.some((action) => action.kind === 'set-downtime'))!;
    expect(kindsOf(step).slice(-2)).toEqual(['set-downtime', 'warn']);
  });
});

describe('perform policy: --timeout', () => {
  const withTimeout = (timeoutAction: 'abort' | 'suspend' | 'postcopy'): PolicyOptions => ({
    ...base,
    convergence: { timeoutMs: 5_000, timeoutAction, postcopy: timeoutAction === 'postcopy' },
  });
  const moving = (count: number) => Array.from({ length: count }, (_, index) => active(1, (index + 1) * 1000, GiB));

  it('abort: cancels and restores the source once the timeout passes', () => {
    const { kinds, last } = run(withTimeout('abort'), moving(5));
    expect(kinds.slice(0, 4).flat()).toEqual(['progress', 'progress', 'progress', 'progress']);
    expect(failure(last)).toEqual({
      kind: 'fail',
      rollback: 'cancel',
      code: 'MIGRATION_FAILED',
      message: 'the migration of web1 did not complete within --timeout 5 s (--timeout-action abort)',
    });
  });

  it('abort is the default action', () => {
    const { last } = run({ ...base, convergence: { timeoutMs: 5_000 } }, moving(5));
    expect(failure(last)?.message).toContain('--timeout-action abort');
  });

  it('suspend: pauses the guest once and goes on', () => {
    const { all } = run(withTimeout('suspend'), moving(8));
    expect(kindsOf(all[4]!)).toEqual(['progress', 'suspend', 'warn']);
    expect(all.flat().filter((action) => action.kind === 'suspend')).toHaveLength(1);
    expect(all.flat().some((action) => action.kind === 'fail')).toBe(false);
  });

  it('postcopy: switches to post-copy once, then never resumes the source', () => {
    const { all, state } = run(withTimeout('postcopy'), [...moving(6), active(2, 9000, 100, 'postcopy-active')]);
    const switches = all.flat().filter((action) => action.kind === 'start-postcopy');
    expect(switches).toEqual([
      {
        kind: 'start-postcopy',
        message: 'web1: switching to post-copy (--timeout 5 s reached); from now on the destination holds the guest',
      },
    ]);
    expect(kindsOf(all[6]!)).toEqual(['progress', 'postcopy-began']);
    expect(state.postcopyStarted).toBe(true);
  });

  it('never fires once post-copy runs', () => {
    const options = withTimeout('abort');
    const { all } = run(options, [
      active(1, 1, GiB, 'postcopy-active'),
      ...Array.from({ length: 6 }, (_, index) => active(2, index + 2, GiB, 'postcopy-active')),
    ]);
    expect(all.flat().some((action) => action.kind === 'fail')).toBe(false);
  });
});

describe('perform policy: post-copy', () => {
  it('--postcopy-after-precopy switches after the bulk pass', () => {
    const options: PolicyOptions = { ...base, convergence: { postcopyAfterPrecopy: true } };
    const { kinds } = run(options, [active(1, 10, 900), active(2, 20, 800), active(3, 30, 700)]);
    expect(kinds).toEqual([['progress'], ['progress', 'start-postcopy'], ['progress']]);
  });

  it('a post-copy stream that breaks is left for recovery, never rolled back', () => {
    const { last } = run(base, [
      active(2, 10, 900, 'postcopy-active'),
      { ...active(2, 20, 800), status: 'postcopy-paused', 'error-desc': 'Connection reset' },
    ]);
    expect(failure(last)).toEqual({
      kind: 'fail',
      rollback: 'none',
      code: 'NEEDS_RECOVERY',
      message:
        "the post-copy stream of web1 broke (Connection reset); both sides are paused in post-copy, the guest's memory is split between them",
    });
  });

  it('a silent post-copy stream is paused (recoverable), not cancelled', () => {
    const replies = [
      active(2, 10, 900, 'postcopy-active'),
      ...Array.from({ length: 31 }, () => active(2, 10, 900, 'postcopy-active')),
    ];
    const { last } = run(base, replies);
    expect(failure(last)).toMatchObject({
      rollback: 'pause-postcopy',
      code: 'NEEDS_RECOVERY',
      message: expect.stringContaining('moved no data for 30 s'),
    });
  });

  it('a post-copy stream that fails holds both sides', () => {
    let state: PolicyState = initialState(base, 0);
    state = nextStep(
      state,
      { now: 1, reply: active(2, 10, 900, 'postcopy-active'), controllerGone: false },
      base,
    ).state;
    const step = nextStep(state, { now: 2, reply: { status: 'failed', 'total-time': 3 }, controllerGone: false }, base);
    expect(failure(step.actions)).toMatchObject({ rollback: 'none', code: 'NEEDS_RECOVERY' });
  });

  it('stops the non-convergence watch and the downtime steps once post-copy runs', () => {
    const options: PolicyOptions = { ...base, maxDowntimeMs: 900, convergence: { downtimeSteps: 3, postcopy: true } };
    const replies = Array.from({ length: 12 }, (_, index) =>
      active(index + 1, (index + 1) * GiB, GiB / 2, 'postcopy-active'),
    );
    const { all } = run(options, replies);
    expect(all.flat().some((action) => action.kind === 'warn' || action.kind === 'set-downtime')).toBe(false);
  });
});
