import { describe, expect, it } from 'vitest';
import { ConvergenceWatch, convergenceHints, downtimeSchedule, postcopyDue } from '../../../src/qemu/convergence.js';

const MiB = 1024 * 1024;

describe('convergence policy', () => {
  it('starts post-copy after precopy only from the second dirty sync', () => {
    expect(postcopyDue({ postcopyAfterPrecopy: true }, { pass: 1, status: 'active' })).toBe(false);
    expect(postcopyDue({ postcopyAfterPrecopy: true }, { pass: 2, status: 'active' })).toBe(true);
    expect(postcopyDue({ postcopy: true }, { pass: 5, status: 'active' })).toBe(false);
  });

  it('suggests only options not already given', () => {
    expect(convergenceHints({ autoConverge: true })).not.toContain('--auto-converge');
    expect(convergenceHints({})).toContain('--auto-converge');
  });
});

describe('ConvergenceWatch', () => {
  const sample = (pass: number, remainingMiB: number, transferredMiB: number) => ({
    pass,
    remainingBytes: remainingMiB * MiB,
    transferredBytes: transferredMiB * MiB,
  });

  it('warns once when remaining does not shrink over several passes while bytes move', () => {
    const watch = new ConvergenceWatch(3);
    const warnings = [1, 2, 3, 4, 5, 6].map((pass) => watch.observe(sample(pass, 60, pass * 64)));
    expect(warnings).toEqual([false, false, false, true, false, false]);
  });

  it('does not warn while remaining shrinks', () => {
    const watch = new ConvergenceWatch(3);
    const warnings = [1, 2, 3, 4, 5, 6].map((pass) => watch.observe(sample(pass, 64 / 2 ** pass, pass * 64)));
    expect(warnings.some(Boolean)).toBe(false);
  });

  it('leaves a stream that moves no bytes to the stall detector', () => {
    const watch = new ConvergenceWatch(2);
    const warnings = [1, 2, 3, 4].map((pass) => watch.observe(sample(pass, 60, 100)));
    expect(warnings.some(Boolean)).toBe(false);
  });

  it('counts passes, not samples', () => {
    const watch = new ConvergenceWatch(2);
    for (let i = 0; i < 20; i++) expect(watch.observe(sample(1, 60, i))).toBe(false);
    expect(watch.observe(sample(2, 60, 100))).toBe(false);
    expect(watch.observe(sample(3, 60, 200))).toBe(true);
  });
});

describe('downtimeSchedule', () => {
  it('climbs in equal steps to --max-downtime, the last step', () => {
    expect(downtimeSchedule(2000, 4)).toEqual([500, 1000, 1500, 2000]);
    expect(downtimeSchedule(1000, 3)).toEqual([334, 667, 1000]);
  });
});
