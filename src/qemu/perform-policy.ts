// The decisions of Perform, pure: given what QEMU reports about the outgoing stream, what to do next (report,
// warn, allow more downtime, switch to post-copy, pause the guest, give up, or finish). The agent's perform
// handler (src/agent/source.ts) does the QMP calls and the one rollback; this decides, and is unit-tested.
// It knows nothing of the transport: the stream's bytes may go direct, through a tunnel, or (later) over
// several streams and block jobs; each only adds to the observation, and the rules stay the same.
import {
  convergenceHints,
  downtimeSchedule,
  NO_PASSES,
  observePasses,
  postcopyDue,
  type ConvergenceOptions,
  type PassSamples,
} from './convergence.js';
import {
  outgoingStatus,
  TERMINAL_STATUSES,
  toProgress,
  type MigrationProgress,
  type QueryMigrate,
} from './migration-stats.js';
import { checkStall, NEW_STALL_CLOCK, type StallClock } from './stall.js';

export interface PolicyOptions {
  /** The guest's name, for messages. */
  name: string;
  /** A stream that moves no byte for this long is dead (slow progress alone never is). */
  stallTimeoutMs: number;
  maxDowntimeMs?: number;
  convergence: ConvergenceOptions;
}

/** What the policy remembers between two looks at QEMU: plain data, replaced (never changed) by nextStep. */
export interface PolicyState {
  startedAt: number;
  /** --downtime-steps: the limits to go through, and which one QEMU has now. */
  downtimeSteps?: number[];
  downtimeStep: number;
  passes: PassSamples;
  stepPasses: PassSamples;
  stall: StallClock;
  timeoutHandled: boolean;
  postcopyRequested: boolean;
  /** Once post-copy runs, the destination holds the authoritative guest: nothing may resume the source. */
  postcopyStarted: boolean;
}

export interface Observation {
  now: number;
  /** QEMU's query-migrate reply. */
  reply: QueryMigrate;
  /** The controller is gone (the agent decides alone from now on: abandonSource). */
  controllerGone: boolean;
  /** Why the tunnel broke, if it did: said with a failed stream. */
  tunnelFailure?: string;
}

/**
 * How to leave a failed Perform. cancel: stop the stream, wait until QEMU says it ended, put the guest back as
 * it was; restore: the stream already ended, just put the guest back; pause-postcopy: force the post-copy
 * stream into a recoverable pause; none: leave everything as it is (post-copy, or the controller is gone).
 */
export type Rollback = 'cancel' | 'restore' | 'pause-postcopy' | 'none';

export type Action =
  | { kind: 'progress'; progress: MigrationProgress }
  | { kind: 'postcopy-began' }
  | { kind: 'warn'; message: string }
  | { kind: 'set-downtime'; limitMs: number }
  | { kind: 'start-postcopy'; message: string }
  | { kind: 'suspend' }
  /** QEMU has not started the stream yet: look again soon. */
  | { kind: 'wait-start' }
  | {
      kind: 'fail';
      rollback: Rollback;
      code: 'MIGRATION_FAILED' | 'MIGRATION_ABORTED' | 'NEEDS_RECOVERY';
      message: string;
    }
  | { kind: 'complete' };

export interface Step {
  state: PolicyState;
  /** In order; a `fail` or `complete` is always last. */
  actions: Action[];
}

export function initialState(options: PolicyOptions, now: number): PolicyState {
  const { maxDowntimeMs, convergence } = options;
  return {
    startedAt: now,
    ...(maxDowntimeMs && convergence.downtimeSteps
      ? { downtimeSteps: downtimeSchedule(maxDowntimeMs, convergence.downtimeSteps) }
      : {}),
    downtimeStep: 0,
    passes: NO_PASSES,
    stepPasses: NO_PASSES,
    stall: NEW_STALL_CLOCK,
    timeoutHandled: false,
    postcopyRequested: false,
    postcopyStarted: false,
  };
}

/** The downtime limit to set before `migrate`: the first of --downtime-steps, or --max-downtime itself. */
export function initialDowntime(options: Pick<PolicyOptions, 'maxDowntimeMs' | 'convergence'>): number | undefined {
  const { maxDowntimeMs, convergence } = options;
  if (!maxDowntimeMs) return undefined;
  return convergence.downtimeSteps ? downtimeSchedule(maxDowntimeMs, convergence.downtimeSteps)[0] : maxDowntimeMs;
}

const seconds = (ms: number) => Math.round(ms / 1000);

/** The stream ended (completed, failed, cancelled): finish, or fail in the way that keeps the guest whole. */
function ended(state: PolicyState, observation: Observation, options: PolicyOptions): Action {
  const { reply } = observation;
  if (reply.status === 'completed') return { kind: 'complete' };
  if (state.postcopyStarted) {
    return {
      kind: 'fail',
      rollback: 'none',
      code: 'NEEDS_RECOVERY',
      message: `the post-copy stream of ${options.name} failed (${reply['error-desc'] ?? reply.status}); the destination holds the guest, the source stays paused`,
    };
  }
  const cancelled = reply.status === 'cancelled';
  const tunnel = observation.tunnelFailure ? ` (${observation.tunnelFailure})` : '';
  const reason = cancelled ? 'was cancelled' : `failed: ${reply['error-desc'] ?? 'QEMU gave no reason'}${tunnel}`;
  return {
    kind: 'fail',
    rollback: 'restore',
    code: cancelled ? 'MIGRATION_ABORTED' : 'MIGRATION_FAILED',
    message: `the migration stream of ${options.name} ${reason}`,
  };
}

const gone: Action = {
  kind: 'fail',
  rollback: 'none',
  code: 'MIGRATION_ABORTED',
  message: 'the controller disconnected',
};

/** One look at QEMU: the next state and what to do, in order. */
export function nextStep(state: PolicyState, observation: Observation, options: PolicyOptions): Step {
  const { now, reply } = observation;
  const { name, convergence } = options;
  const status = outgoingStatus(reply);
  if (TERMINAL_STATUSES.has(status)) return { state, actions: [ended(state, observation, options)] };
  if (status === 'none') {
    // QEMU has not started our stream yet (see outgoingStatus); it must within the stall timeout.
    if (observation.controllerGone) return { state, actions: [gone] };
    if (now - state.startedAt > options.stallTimeoutMs) {
      return {
        state,
        actions: [
          {
            kind: 'fail',
            rollback: 'cancel',
            code: 'MIGRATION_FAILED',
            message: `QEMU did not start the migration stream of ${name} within ${seconds(options.stallTimeoutMs)} s`,
          },
        ],
      };
    }
    return { state, actions: [{ kind: 'wait-start' }] };
  }

  const next: PolicyState = { ...state };
  const progress = toProgress(reply);
  const actions: Action[] = [{ kind: 'progress', progress }];
  if (progress.status.startsWith('postcopy') && !next.postcopyStarted) {
    next.postcopyStarted = true;
    actions.push({ kind: 'postcopy-began' });
  }
  if (!next.postcopyStarted) {
    const watched = observePasses(next.passes, progress);
    next.passes = watched.samples;
    if (watched.notConverging) {
      actions.push({
        kind: 'warn',
        message: `${name} is not converging: the guest dirties memory as fast as the stream moves it (remaining bytes did not shrink over several passes); consider ${convergenceHints(convergence).join(', ')}`,
      });
    }
  }
  const steps = next.downtimeSteps;
  if (steps && next.downtimeStep < steps.length - 1 && !next.postcopyStarted) {
    const watched = observePasses(next.stepPasses, progress);
    next.stepPasses = watched.samples;
    if (watched.notConverging) {
      // Not converging at this limit: allow the next step, and watch the following passes afresh.
      next.downtimeStep++;
      next.stepPasses = NO_PASSES;
      actions.push(
        { kind: 'set-downtime', limitMs: steps[next.downtimeStep]! },
        {
          kind: 'warn',
          message: `${name}: not converging with ${steps[next.downtimeStep - 1]} ms of downtime; allowing ${steps[next.downtimeStep]} ms (--downtime-steps, step ${next.downtimeStep + 1} of ${steps.length})`,
        },
      );
    }
  }
  const startPostcopy = (why: string) => {
    next.postcopyRequested = true;
    actions.push({
      kind: 'start-postcopy',
      message: `${name}: switching to post-copy (${why}); from now on the destination holds the guest`,
    });
  };
  if (!next.postcopyRequested && postcopyDue(convergence, progress)) startPostcopy('--postcopy-after-precopy');
  if (
    !next.timeoutHandled &&
    !next.postcopyStarted &&
    convergence.timeoutMs !== undefined &&
    now - next.startedAt >= convergence.timeoutMs
  ) {
    next.timeoutHandled = true;
    const limit = seconds(convergence.timeoutMs);
    const action = convergence.timeoutAction ?? 'abort';
    if (action === 'abort') {
      actions.push({
        kind: 'fail',
        rollback: 'cancel',
        code: 'MIGRATION_FAILED',
        message: `the migration of ${name} did not complete within --timeout ${limit} s (--timeout-action abort)`,
      });
      return { state: next, actions };
    }
    if (action === 'suspend') {
      // A paused guest dirties nothing: the copy finishes; the destination resumes it in Finish as usual.
      actions.push(
        { kind: 'suspend' },
        {
          kind: 'warn',
          message: `${name}: not done after ${limit} s, pausing the guest so the copy can finish (--timeout-action suspend)`,
        },
      );
    } else if (!next.postcopyRequested) {
      startPostcopy(`--timeout ${limit} s reached`);
    }
  }
  if (next.postcopyStarted && reply.status === 'postcopy-paused') {
    actions.push({
      kind: 'fail',
      rollback: 'none',
      code: 'NEEDS_RECOVERY',
      message: `the post-copy stream of ${name} broke (${reply['error-desc'] ?? 'connection lost'}); both sides are paused in post-copy, the guest's memory is split between them`,
    });
    return { state: next, actions };
  }
  const stall = checkStall(next.stall, reply.ram?.transferred ?? 0, now, options.stallTimeoutMs);
  next.stall = stall.clock;
  if (stall.stalled) {
    const idle = `moved no data for ${seconds(options.stallTimeoutMs)} s`;
    // After the switch-over QEMU would wait on a silent socket for minutes: pausing makes it recoverable at once.
    actions.push(
      next.postcopyStarted
        ? {
            kind: 'fail',
            rollback: 'pause-postcopy',
            code: 'NEEDS_RECOVERY',
            message: `the post-copy stream of ${name} ${idle}; both sides are paused in post-copy, the guest's memory is split between them`,
          }
        : {
            kind: 'fail',
            rollback: 'cancel',
            code: 'MIGRATION_FAILED',
            message: `the migration stream of ${name} ${idle}: the destination or the network to it stopped answering`,
          },
    );
    return { state: next, actions };
  }
  // The controller is gone: abandonSource() now decides; the loop just stops watching.
  if (observation.controllerGone) actions.push(gone);
  return { state: next, actions };
}
