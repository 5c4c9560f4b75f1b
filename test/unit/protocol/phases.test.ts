import { describe, expect, it } from 'vitest';
import { PHASES as JSON_PHASES } from '../../../src/cli/json-events.js';
import { PHASES, STEP_INFO, STEPS, phaseInfo, stepAllowed } from '../../../src/protocol/phases.js';

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

  it('has one row per controller step, and every next step is a step', () => {
    expect(Object.keys(STEP_INFO)).toEqual([...STEPS]);
    for (const info of Object.values(STEP_INFO)) for (const next of info.next) expect(STEPS).toContain(next);
  });

  it('allows the steps in order, a repeat, and the way back only before confirm', () => {
    expect(stepAllowed(undefined, 'begin')).toBe(true);
    expect(stepAllowed(undefined, 'prepare')).toBe(false);
    expect(stepAllowed('prepare', 'prepare')).toBe(true);
    expect(stepAllowed('begin', 'perform')).toBe(false);
    expect(stepAllowed('finish', 'perform')).toBe(false);
    expect(STEPS.filter((step) => stepAllowed(step, 'rollback') && step !== 'rollback')).toEqual([
      'prepare',
      'perform',
      'finish',
    ]);
    expect(stepAllowed('rollback', 'begin')).toBe(false);
  });

  it('says the switch-over begins at finish: from there Ctrl-C no longer cancels', () => {
    expect(STEPS.filter((step) => STEP_INFO[step].switchingOver)).toEqual(['finish', 'confirm']);
  });
});
