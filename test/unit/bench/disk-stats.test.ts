import { describe, expect, it } from 'vitest';
import { renderDiskSummaries, summarizeDisk, type DiskSample } from '../../../src/bench/disk-stats.js';
import { parseBenchOptions } from '../../../src/bench/options.js';

const sample = (transport: DiskSample['transport'], diskMBps: number, ramMBps: number): DiskSample => ({
  transport,
  round: 1,
  diskBytes: diskMBps * 1e6 * 2,
  diskCopyMs: 2000,
  ramBytes: ramMBps * 1e6,
  ramMs: 1000,
  wallTimeMs: 4000,
});

describe('bench disk rows', () => {
  it('medians of disk MB/s and RAM MB/s per transport; a transport without a sample says why', () => {
    const summaries = summarizeDisk(
      ['tls', 'ssh', 'direct'],
      [sample('tls', 100, 200), sample('tls', 120, 220), sample('tls', 110, 180), sample('ssh', 50, 60)],
      [{ transport: 'direct', kind: 'failed', reason: 'exit 1: boom' }],
    );
    expect(summaries[0]).toMatchObject({ transport: 'tls', runs: 3, diskMBps: 110, ramMBps: 200 });
    expect(summaries[1]).toMatchObject({ transport: 'ssh', runs: 1, diskMBps: 50, ramMBps: 60, wallTimeMs: 4000 });
    expect(summaries[2]).toEqual({ transport: 'direct', runs: 0, missing: 'failed: exit 1: boom' });
    const table = renderDiskSummaries(summaries);
    expect(table.split('\n')[0]).toMatch(/^transport\s+runs\s+disk MB\/s\s+RAM MB\/s\s+disk copy\s+wall$/);
    expect(table).toMatch(/^tls\s+3\s+110\.0\s+200\.0\s+2\.0 s\s+4\.0 s$/m);
    expect(table).toMatch(/^direct\s+0\s+failed: exit 1: boom$/m);
  });

  it('--disk is off by default, takes MiB, and needs a plain vmig transport', () => {
    expect(parseBenchOptions([]).diskMiB).toBe(0);
    expect(parseBenchOptions(['--disk', '1024']).diskMiB).toBe(1024);
    expect(() => parseBenchOptions(['--disk', '8'])).toThrow(/--disk takes a whole number from 16/);
    expect(() => parseBenchOptions(['--disk', '64', '--transports', 'tls-p2,openssh'])).toThrow(
      /--disk needs direct, tls or ssh/,
    );
  });
});
