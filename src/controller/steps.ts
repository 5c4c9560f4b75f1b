// The controller's half of the one phase machine: where a migration's driver stands, changed only by
// transition(), which sets the step, records it and reports it, so what the driver does and what the
// operator sees (--json phase events, the live line) can never diverge. The agents journal their own
// half through src/agent/migration-state.ts's transition().
import { stepAllowed, type MigrationStep } from '../protocol/phases.js';

export interface StepRecord {
  step: MigrationStep;
  detail: string;
  /** Wall-clock ms when the driver entered it. */
  at: number;
}

export interface StepTrack {
  /** The current step; undefined until the driver begins. */
  step?: MigrationStep;
  /** Every transition, in order: the controller's record of this migration. */
  history: StepRecord[];
  reporter: {
    phase(step: MigrationStep, detail: string): void;
    warning(message: string): void;
  };
}

/**
 * Moves the driver to `step`. A move the step table does not allow is a driver bug: it is reported as a
 * warning but never refused, since refusing could stop a way back half done and leave a guest on two hosts.
 */
export function transition(track: StepTrack, step: MigrationStep, detail: string): void {
  if (!stepAllowed(track.step, step))
    track.reporter.warning(`internal: the driver went from ${track.step ?? 'nothing'} to ${step} (please report)`);
  track.step = step;
  track.history.push({ step, detail, at: Date.now() });
  track.reporter.phase(step, detail);
}
