// Turns QEMU's query-migrate reply into vmig's progress record. Pure, so it is unit-tested against real replies.

export interface QueryMigrate {
  status?: string;
  'total-time'?: number;
  'expected-downtime'?: number;
  downtime?: number;
  'setup-time'?: number;
  'error-desc'?: string;
  ram?: {
    transferred?: number;
    remaining?: number;
    total?: number;
    mbps?: number;
    'dirty-pages-rate'?: number;
    'dirty-sync-count'?: number;
    'page-size'?: number;
  };
}

export interface MigrationProgress {
  status: string;
  /** QEMU's dirty-sync count: pass 1 is the bulk copy, later passes re-send what the guest dirtied. */
  pass: number;
  transferredBytes: number;
  remainingBytes: number;
  totalBytes: number;
  /** Bytes per second actually moved. */
  throughputBps: number;
  /** Bytes per second the guest dirties. */
  dirtyRateBps: number;
  expectedDowntimeMs?: number | undefined;
  elapsedMs: number;
  /** Copied disks (storage migration): bytes mirrored so far per disk. Status "disks" while they copy before memory. */
  disks?: DiskCopyProgress[];
}

export interface DiskCopyProgress {
  target: string;
  copiedBytes: number;
  totalBytes: number;
  /** Caught up: from now on each guest write is mirrored as it happens. */
  ready: boolean;
}

export const TERMINAL_STATUSES = new Set(['completed', 'failed', 'cancelled']);

/**
 * The status of this QEMU's *outgoing* migration. A QEMU that itself arrived by migration answers
 * query-migrate with its incoming stream's "completed" (and no figures) until its own outgoing migration has
 * set a state: seen right after `migrate`, that is not the outcome of ours, and must not end the wait.
 */
export function outgoingStatus(reply: QueryMigrate): string {
  if (reply.status === 'completed' && reply['total-time'] === undefined) return 'none';
  return reply.status ?? 'none';
}

export function toProgress(reply: QueryMigrate): MigrationProgress {
  const ram = reply.ram ?? {};
  const pageSize = ram['page-size'] ?? 4096;
  return {
    status: reply.status ?? 'none',
    pass: ram['dirty-sync-count'] ?? 0,
    transferredBytes: ram.transferred ?? 0,
    remainingBytes: ram.remaining ?? 0,
    totalBytes: ram.total ?? 0,
    throughputBps: Math.round(((ram.mbps ?? 0) * 1e6) / 8),
    dirtyRateBps: (ram['dirty-pages-rate'] ?? 0) * pageSize,
    expectedDowntimeMs: reply['expected-downtime'],
    elapsedMs: reply['total-time'] ?? 0,
  };
}

export interface MigrationOutcome {
  totalTimeMs: number;
  downtimeMs: number;
  setupTimeMs: number;
  transferredBytes: number;
  totalBytes: number;
  passes: number;
  throughputBps: number;
  /** Wall-clock ms of the source QEMU's STOP event (the guest-visible pause began), when it was seen. */
  sourceStopAt?: number;
  /** The source QEMU's query-migrate-parameters as the stream started (shown by `vmig migrate --verbose`). */
  parameters?: Record<string, unknown>;
  /** Copied disks: bytes mirrored per disk, and how long the disk copy took before memory followed. */
  disks?: DiskCopyProgress[];
  diskCopyMs?: number;
}

export function toOutcome(reply: QueryMigrate): MigrationOutcome {
  const ram = reply.ram ?? {};
  const totalTimeMs = reply['total-time'] ?? 0;
  const transferredBytes = ram.transferred ?? 0;
  return {
    totalTimeMs,
    downtimeMs: reply.downtime ?? 0,
    setupTimeMs: reply['setup-time'] ?? 0,
    transferredBytes,
    totalBytes: ram.total ?? 0,
    passes: ram['dirty-sync-count'] ?? 0,
    throughputBps: totalTimeMs > 0 ? Math.round((transferredBytes * 1000) / totalTimeMs) : 0,
  };
}
