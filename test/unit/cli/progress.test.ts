import { describe, expect, it } from 'vitest';
import { describeLive, describeProgress, liveLabel } from '../../../src/cli/progress.js';
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

  it('while copied disks copy before memory: disks copied / total, then memory', () => {
    const GiB = 1024 ** 3;
    const disks = progress({
      status: 'disks',
      pass: 0,
      disks: [
        { target: 'vda', copiedBytes: 1.5 * GiB, totalBytes: 4 * GiB, ready: false },
        { target: 'vdb', copiedBytes: 2 * GiB, totalBytes: 2 * GiB, ready: true },
      ],
    });
    expect(describeProgress(disks)).toBe('disks 3.50 / 6.00 GiB (vda 1.50/4.00, vdb ready), then memory');
    expect(describeLive(disks)).toBe('disks 3.50 / 6.00 GiB (vda 1.50/4.00, vdb ready), then memory');
    expect(liveLabel('perform', disks)).toBe('copying disks');
  });

  it('starts at pass 1 and omits what is not known yet', () => {
    const text = describeProgress(progress({ pass: 0, throughputBps: 0, dirtyRateBps: 0, transferredBytes: 0 }));
    expect(text).toBe('pass 1, 0 B sent, 32.0 MiB left in this pass, 0 B/s');
  });

  it('shows expected downtime only after the first pass', () => {
    expect(describeProgress(progress({ pass: 1 }))).not.toContain('expected downtime');
  });

  it('never prints a percentage, even when remaining grows past total', () => {
    for (const overrides of [
      {},
      { pass: 0 },
      { remainingBytes: 0 },
      { remainingBytes: 512 * 1024 * 1024 },
      { totalBytes: 0 },
    ]) {
      expect(describeProgress(progress(overrides))).not.toContain('%');
    }
  });
});

describe('liveLabel', () => {
  it('names the phase as an operator would, with the pass while copying', async () => {
    const { liveLabel } = await import('../../../src/cli/progress.js');
    expect(liveLabel('begin')).toBe('connecting');
    expect(liveLabel('perform', progress({ pass: 0 }))).toBe('copying pass 1');
    expect(liveLabel('perform', progress({ pass: 4 }))).toBe('copying pass 4');
    expect(liveLabel('perform', progress({ status: 'device' }))).toBe('switching over');
    expect(liveLabel('finish')).toBe('switching over');
  });

  it('says so instead of an estimate when the guest dirties memory faster than it is sent', () => {
    const text = describeProgress(progress({ dirtyRateBps: 100 * 1024 * 1024 }));
    expect(text).toContain('not converging');
    expect(text).not.toContain('for this pass');
  });
});

describe('colour', () => {
  it('a chalk at level 0 (NO_COLOR, --no-color, a pipe) emits no escape sequence', async () => {
    const { Output } = await import('../../../src/cli/output.js');
    const output = new Output({
      connect: 'local',
      json: false,
      quiet: false,
      verbose: false,
      color: false,
      debug: false,
      acceptNewHostKey: false,
    });
    expect(output.chalk.level).toBe(0);
    expect(output.chalk.red.bold.dim('x')).toBe('x');
  });
});

describe('describeLive', () => {
  it('leads with what is left of the pass, then the estimate; never a percentage', async () => {
    const { describeLive } = await import('../../../src/cli/progress.js');
    expect(describeLive(progress())).toBe(
      '32.0 MiB left, 200.0 MiB sent, 80.0 MiB/s, ~400 ms to go, dirtying 4.0 MiB/s, downtime ~312 ms',
    );
    expect(describeLive(progress({ dirtyRateBps: 90 * 1024 * 1024 }))).toContain('not converging');
    expect(describeLive(progress({ remainingBytes: 900 * 1024 * 1024 }))).not.toContain('%');
  });
});
