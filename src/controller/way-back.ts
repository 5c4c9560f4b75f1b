// How the driver leaves a failed step, pure: from what is known at that moment, which side keeps the guest.
// The rule behind every answer: a guest never runs on two hosts, and an outcome we cannot know is reported
// (NEEDS_RECOVERY, for `vmig recover`), never guessed. src/controller/migrate.ts carries the answers out.
import { isVmigError } from '../errors.js';

/** The agent link broke (or spoke nonsense): what that agent did last is unknown to us. */
export const connectionLost = (error: unknown): boolean =>
  !isVmigError(error) || error.code === 'AGENT_FAILED' || error.code === 'PROTOCOL_MISMATCH';

export type PerformExit =
  /** Post-copy: the guest's memory is split between the hosts; pause both for `vmig recover`, remove nothing. */
  | { kind: 'hold-both' }
  /** Before the switch-over, the source link broke: remove the destination; the source agent cancels alone. */
  | { kind: 'source-lost' }
  /** Before the switch-over: remove the destination, release the source, which keeps running the guest. */
  | { kind: 'roll-back'; code: 'MIGRATION_ABORTED' | 'MIGRATION_FAILED' };

export function afterPerformFailure(error: unknown, postcopyStarted: boolean): PerformExit {
  if (postcopyStarted || (isVmigError(error) && error.code === 'NEEDS_RECOVERY')) return { kind: 'hold-both' };
  if (connectionLost(error)) return { kind: 'source-lost' };
  return {
    kind: 'roll-back',
    code: isVmigError(error) && error.code === 'MIGRATION_ABORTED' ? 'MIGRATION_ABORTED' : 'MIGRATION_FAILED',
  };
}

export type FinishExit =
  /** The destination ran the guest already (post-copy): the source's copy is stale and must never run again. */
  | { kind: 'destination-holds' }
  /** The destination link broke: it may have resumed the guest, so resuming the source could run it twice. */
  | { kind: 'outcome-unknown' }
  /** The destination said it could not take over: remove it and resume the source, which holds the same state. */
  | { kind: 'resume-source' };

export function afterFinishFailure(error: unknown, postcopy: boolean): FinishExit {
  if (postcopy) return { kind: 'destination-holds' };
  if (connectionLost(error)) return { kind: 'outcome-unknown' };
  return { kind: 'resume-source' };
}
