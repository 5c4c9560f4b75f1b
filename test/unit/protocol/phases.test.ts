import { describe, expect, it } from 'vitest';
import { PHASES as JSON_PHASES } from '../../../src/cli/json-events.js';
import { PHASES, STEPS, phaseInfo } from '../../../src/protocol/phases.js';

describe('the phase vocabulary', () => {
  it('is what --json reports as phase events', () => {
    expect(JSON_PHASES).toBe(STEPS);
    expect(STEPS).toEqual(['begin', 'prepare', 'perform', 'finish', 'confirm', 'rollback']);
  });

  it('knows every phase name that wave-1 agents wrote to their journals', () => {
    for (const name of [
      'begun',
      'prepared',
      'performing',
      'completed',
      'finished',
      'confirmed',
      'cancelled',
      'aborted',
      'resumed',
      'held',
    ]) {
      expect(phaseInfo(name), name).toBeDefined();
    }
    expect(Object.keys(PHASES)).toHaveLength(10);
  });

  it('answers undefined for a name it does not know, and for inherited names', () => {
    expect(phaseInfo('postcopy-paused-in-2031')).toBeUndefined();
    expect(phaseInfo('toString')).toBeUndefined();
  });

  it('marks the phases past the point of no return', () => {
    const sent = Object.entries(PHASES)
      .filter(([, info]) => info.sent)
      .map(([name]) => name);
    expect(sent.sort()).toEqual(['completed', 'confirmed', 'finished', 'held']);
    const open = Object.entries(PHASES)
      .filter(([, info]) => !info.final)
      .map(([name]) => name);
    expect(open.sort()).toEqual(['begun', 'completed', 'held', 'performing', 'prepared']);
  });
});
