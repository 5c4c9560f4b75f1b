import { describe, expect, it } from 'vitest';
import { interruptAction } from '../../../src/cli/interrupt.js';
import { STEPS } from '../../../src/protocol/phases.js';

describe('interruptAction', () => {
  it('cancels on the first signal before the switch-over, and only says what is pending after that', () => {
    for (const step of ['begin', 'prepare', 'perform', 'rollback'] as const) {
      expect(interruptAction(1, step), step).toBe('cancel');
      expect(interruptAction(2, step), step).toBe('say-pending');
      expect(interruptAction(5, step), step).toBe('say-pending');
    }
  });

  it('never cancels once the switch-over has begun (finish, confirm), however often it is pressed', () => {
    for (const step of ['finish', 'confirm'] as const)
      for (const interrupts of [1, 2, 3]) expect(interruptAction(interrupts, step)).toBe('wait-for-switchover');
  });

  it('answers for every step', () => {
    for (const step of STEPS) expect(['cancel', 'wait-for-switchover']).toContain(interruptAction(1, step));
  });
});
