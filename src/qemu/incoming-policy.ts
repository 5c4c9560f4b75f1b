// The decisions of Finish on the destination, pure: from QEMU's migration status and run state, whether the
// incoming guest is ready to resume, worth another look, or lost in a way to report. src/agent/destination.ts
// does the QMP calls. In post-copy the guest resumes before its last page arrived; then a broken stream
// leaves its memory split between the hosts, which only `vmig recover` can mend.

/** What QEMU says on the destination: query-migrate's status, query-status's run state, and why it failed. */
export interface IncomingState {
  migration: string;
  run: string;
  errorDesc?: string;
}

export interface IncomingOptions {
  /** The guest's name and host, for messages. */
  where: string;
  /** Finish was called at the switch to post-copy. */
  postcopy: boolean;
  timeoutMs: number;
}

export type IncomingVerdict =
  | { kind: 'ready' }
  | { kind: 'wait' }
  | { kind: 'fail'; code: 'MIGRATION_FAILED' | 'NEEDS_RECOVERY'; message: string };

const brokenPostcopy = (state: IncomingState, options: IncomingOptions): IncomingVerdict => ({
  kind: 'fail',
  code: 'NEEDS_RECOVERY',
  message: `the post-copy stream into ${options.where} broke (${state.errorDesc ?? state.migration}); the guest's memory is split between both hosts`,
});

/**
 * Before resuming: ready once QEMU has loaded the device state ("inmigrate" turns into "paused"), in post-copy
 * as soon as the switch-over happened.
 */
export function beforeResume(state: IncomingState, options: IncomingOptions, pastDeadline: boolean): IncomingVerdict {
  if (state.migration === 'completed' && state.run !== 'inmigrate') return { kind: 'ready' };
  if (options.postcopy && state.migration === 'postcopy-active' && state.run !== 'inmigrate') return { kind: 'ready' };
  if (options.postcopy && (state.migration === 'postcopy-paused' || state.migration === 'failed'))
    return brokenPostcopy(state, options);
  if (state.migration === 'failed')
    return {
      kind: 'fail',
      code: 'MIGRATION_FAILED',
      message: `the incoming stream of ${options.where} failed: ${state.errorDesc ?? 'no reason given'}`,
    };
  if (pastDeadline) {
    return {
      kind: 'fail',
      code: options.postcopy ? 'NEEDS_RECOVERY' : 'MIGRATION_FAILED',
      message: `the incoming stream of ${options.where} did not ${options.postcopy ? 'switch to post-copy' : 'complete'} within ${options.timeoutMs} ms`,
    };
  }
  return { kind: 'wait' };
}

/** After resuming in post-copy: the guest runs here and fetches missing pages; done when the last one arrived. */
export function afterPostcopyResume(state: IncomingState, options: IncomingOptions): IncomingVerdict {
  if (state.migration === 'completed') return { kind: 'ready' };
  if (state.migration !== 'postcopy-active') return brokenPostcopy(state, options);
  return { kind: 'wait' };
}
