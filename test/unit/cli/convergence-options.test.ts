import { describe, expect, it } from 'vitest';
import { convergenceOptions } from '../../../src/cli/commands/migrate.js';

describe('convergenceOptions', () => {
  it('passes --downtime-steps on with its ceiling', () => {
    expect(convergenceOptions({ downtimeSteps: '4' }, 2000)).toEqual({ downtimeSteps: 4 });
  });

  it('refuses --downtime-steps without --max-downtime, or out of range, naming the option', () => {
    expect(() => convergenceOptions({ downtimeSteps: '4' })).toThrow(/--downtime-steps needs --max-downtime/);
    expect(() => convergenceOptions({ downtimeSteps: '1' }, 1000)).toThrow(/--downtime-steps takes 2 to 20 steps, not 1/);
    expect(() => convergenceOptions({ downtimeSteps: 'x' }, 1000)).toThrow(/--downtime-steps/);
  });

  it('maps the timeout and its action, and refuses an action without a timeout', () => {
    expect(convergenceOptions({ timeout: '10', timeoutAction: 'postcopy' })).toEqual({ timeoutMs: 10_000, timeoutAction: 'postcopy' });
    expect(convergenceOptions({ timeout: '10' })).toEqual({ timeoutMs: 10_000, timeoutAction: 'abort' });
    expect(() => convergenceOptions({ timeoutAction: 'suspend' })).toThrow(/--timeout-action needs --timeout/);
  });
});
