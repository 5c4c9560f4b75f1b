import { describe, expect, it } from 'vitest';
import {
  TERMINAL_STATUSES,
  outgoingStatus,
  toOutcome,
  toProgress,
  type QueryMigrate,
} from '../../../src/qemu/migration-stats.js';

// query-migrate replies as QEMU 7.2 sends them (trimmed of fields vmig ignores).
const active: QueryMigrate = {
  status: 'active',
  'setup-time': 3,
  'total-time': 2510,
  'expected-downtime': 312,
  ram: {
    transferred: 201_326_592,
    remaining: 33_554_432,
    total: 268_435_456,
    mbps: 641.7,
    'dirty-pages-rate': 1200,
    'dirty-sync-count': 3,
    'page-size': 4096,
  },
};

const completed: QueryMigrate = {
  status: 'completed',
  'setup-time': 3,
  'total-time': 4000,
  downtime: 57,
  ram: {
    transferred: 300_000_000,
    remaining: 0,
    total: 268_435_456,
    mbps: 600.2,
    'dirty-sync-count': 5,
    'page-size': 4096,
  },
};

describe('toProgress', () => {
  it('maps a running migration', () => {
    expect(toProgress(active)).toEqual({
      status: 'active',
      pass: 3,
      transferredBytes: 201_326_592,
      remainingBytes: 33_554_432,
      totalBytes: 268_435_456,
      throughputBps: 80_212_500, // 641.7 Mbit/s in bytes per second
      dirtyRateBps: 1200 * 4096,
      expectedDowntimeMs: 312,
      elapsedMs: 2510,
    });
  });

  it('tolerates a reply before migration starts', () => {
    const progress = toProgress({ status: 'setup' });
    expect(progress).toMatchObject({
      status: 'setup',
      pass: 0,
      transferredBytes: 0,
      throughputBps: 0,
      dirtyRateBps: 0,
      elapsedMs: 0,
    });
    expect(progress.expectedDowntimeMs).toBeUndefined();
    expect(toProgress({}).status).toBe('none');
  });
});

describe('toOutcome', () => {
  it('summarises a completed migration', () => {
    expect(toOutcome(completed)).toEqual({
      totalTimeMs: 4000,
      downtimeMs: 57,
      setupTimeMs: 3,
      transferredBytes: 300_000_000,
      totalBytes: 268_435_456,
      passes: 5,
      throughputBps: 75_000_000,
    });
  });

  it('does not divide by zero', () => {
    expect(toOutcome({ status: 'completed' }).throughputBps).toBe(0);
  });

  it('knows the terminal statuses', () => {
    expect([...TERMINAL_STATUSES].sort()).toEqual(['cancelled', 'completed', 'failed']);
    expect(TERMINAL_STATUSES.has('active')).toBe(false);
  });
});

describe('outgoingStatus', () => {
  it('does not take a migrated-in QEMU\'s incoming "completed" for the end of its own outgoing stream', () => {
    // What QEMU 7.2 answered right after `migrate` on a guest that had arrived by migration (seen in npm run bench).
    expect(outgoingStatus({ status: 'completed' })).toBe('none');
    expect(outgoingStatus({ status: 'completed', 'total-time': 3616, ram: { transferred: 1 } })).toBe('completed');
    expect(outgoingStatus({ status: 'active', ram: { transferred: 1 } })).toBe('active');
    expect(outgoingStatus({})).toBe('none');
  });
});
