import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { transition, type StepTrack } from '../../../src/controller/steps.js';
import type { MigrationStep } from '../../../src/protocol/phases.js';

const root = join(import.meta.dirname, '../../..');

function track(): StepTrack & { emitted: Array<[MigrationStep, string]>; warnings: string[] } {
  const emitted: Array<[MigrationStep, string]> = [];
  const warnings: string[] = [];
  return {
    history: [],
    emitted,
    warnings,
    reporter: { phase: (step, detail) => emitted.push([step, detail]), warning: (message) => warnings.push(message) },
  };
}

const walk = (steps: MigrationStep[]) => {
  const t = track();
  for (const step of steps) transition(t, step, `${step} detail`);
  return t;
};

describe('the controller transition()', () => {
  it('sets the step, records it and reports it, in one call', () => {
    const t = track();
    const before = Date.now();
    transition(t, 'begin', 'checking web1 on h1');
    expect(t.step).toBe('begin');
    expect(t.history).toEqual([{ step: 'begin', detail: 'checking web1 on h1', at: expect.any(Number) }]);
    expect(t.history[0]!.at).toBeGreaterThanOrEqual(before);
    expect(t.emitted).toEqual([['begin', 'checking web1 on h1']]);
    expect(t.warnings).toEqual([]);
  });

  it('walks every way the driver goes without a warning, and the record matches what was reported', () => {
    const ways: MigrationStep[][] = [
      ['begin', 'prepare', 'prepare', 'perform', 'finish', 'confirm'],
      // post-copy: finish starts while perform runs; Finish is not reported twice.
      ['begin', 'prepare', 'perform', 'finish', 'confirm'],
      ['begin', 'prepare', 'prepare', 'rollback'],
      ['begin', 'prepare', 'perform', 'rollback'],
      ['begin', 'prepare', 'perform', 'finish', 'rollback'],
    ];
    for (const way of ways) {
      const t = walk(way);
      expect(t.warnings, way.join(' → ')).toEqual([]);
      expect(t.history.map(({ step, detail }) => [step, detail])).toEqual(t.emitted);
      expect(t.step).toBe(way.at(-1));
    }
  });

  it('warns about a move the step table does not allow, but still makes it (the way back must never stop)', () => {
    const t = walk(['begin', 'prepare', 'perform', 'finish', 'confirm', 'rollback']);
    expect(t.step).toBe('rollback');
    expect(t.emitted.at(-1)).toEqual(['rollback', 'rollback detail']);
    expect(t.warnings).toEqual(['internal: the driver went from confirm to rollback (please report)']);
    expect(walk(['perform']).warnings).toEqual(['internal: the driver went from nothing to perform (please report)']);
  });

  it('is the only way the driver reports a step: no reporter.phase() in src/controller but steps.ts', async () => {
    const offenders: string[] = [];
    for (const file of await readdir(join(root, 'src/controller'))) {
      if (!file.endsWith('.ts') || file === 'steps.ts') continue;
      const text = await readFile(join(root, 'src/controller', file), 'utf8');
      if (/\breporter\.phase\(/.test(text)) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });
});
