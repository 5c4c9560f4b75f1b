import { describe, expect, it } from 'vitest';
import { describeProgress } from '../../../src/cli/progress.js';
import type { MigrationProgress } from '../../../src/qemu/migration-stats.js';

const progress = (overrides: Partial<MigrationProgress> = {}): MigrationProgress => ({
  status: 'active',
  pass: 3,
  transferredBytes: 200 * 1024 * 1024,
  remainingBytes: 32 * 1024 * 1024,
  totalBytes: 256 * 1024 * 1024,
  throughputBps: 80 * 1024 * 1024,
  dirtyRateBps: 4 * 1024 * 1024,
  expectedDowntimeMs: 312,
  elapsedMs: 2500,
  ...overrides,
});

describe('describeProgress', () => {
  it('shows pass, bytes, rates, downtime and time left in the pass', () => {
    expect(describeProgress(progress())).toBe(
      'pass 3, 200.0 MiB sent, 32.0 MiB left in this pass, 80.0 MiB/s, dirtying 4.0 MiB/s, expected downtime 312 ms, ~400 ms for this pass',
    );
  });

  it('starts at pass 1 and omits what is not known yet', () => {
    const text = describeProgress(progress({ pass: 0, throughputBps: 0, dirtyRateBps: 0, transferredBytes: 0 }));
    expect(text).toBe('pass 1, 0 B sent, 32.0 MiB left in this pass, 0 B/s');
  });

  it('shows expected downtime only after the first pass', () => {
    expect(describeProgress(progress({ pass: 1 }))).not.toContain('expected downtime');
  });

  it('never prints a percentage, even when remaining grows past total', () => {
    for (const overrides of [{}, { pass: 0 }, { remainingBytes: 0 }, { remainingBytes: 512 * 1024 * 1024 }, { totalBytes: 0 }]) {
      expect(describeProgress(progress(overrides))).not.toContain('%');
    }
  });
});
