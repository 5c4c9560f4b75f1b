// What a signal (Ctrl-C, SIGTERM) does to `vmig migrate`, pure: the first cancels the migration until the
// switch-over begins; from the switch-over on, and for every later signal, it only says what is pending, since
// only the hosts can settle which of them runs the guest.
import { STEP_INFO, type MigrationStep } from '../protocol/phases.js';

export type InterruptAction = 'cancel' | 'wait-for-switchover' | 'say-pending';

/** `interrupts`: how many signals so far, this one included; `step`: where the driver stands. */
export function interruptAction(interrupts: number, step: MigrationStep): InterruptAction {
  if (STEP_INFO[step].switchingOver) return 'wait-for-switchover';
  return interrupts === 1 ? 'cancel' : 'say-pending';
}
