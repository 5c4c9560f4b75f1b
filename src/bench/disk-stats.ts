// The disk rows' arithmetic (`npm run bench -- --disk MiB`): samples of migrations of a guest with a local disk
// → one row per transport, disk MB/s next to RAM MB/s of the same migrations. Pure (no I/O), unit-tested.
import { median, type BenchTransport, type Miss } from './stats.js';
import { renderTable } from './table.js';

/** One completed migration of the disk guest (--copy-storage-all). Bytes, ms. */
export interface DiskSample {
  transport: BenchTransport;
  round: number;
  /** Bytes the mirrors copied (all disks), and how long the copy took before memory followed. */
  diskBytes: number;
  diskCopyMs: number;
  /** QEMU's ram.transferred and total-time (memory only: it starts when the disks are in step). */
  ramBytes: number;
  ramMs: number;
  /** The controller's wall time, Begin to Confirm. */
  wallTimeMs: number;
}

export interface DiskSummary {
  transport: BenchTransport;
  runs: number;
  missing?: string;
  diskMBps?: number;
  ramMBps?: number;
  diskCopyMs?: number;
  wallTimeMs?: number;
}

const mbps = (bytes: number, ms: number): number => (ms > 0 ? bytes / 1e6 / (ms / 1000) : 0);

export function summarizeDisk(
  order: readonly BenchTransport[],
  samples: readonly DiskSample[],
  misses: readonly Miss[],
): DiskSummary[] {
  return order.map((transport) => {
    const mine = samples.filter((sample) => sample.transport === transport);
    if (mine.length === 0) {
      const miss = misses.find((entry) => entry.transport === transport);
      return { transport, runs: 0, missing: miss ? `${miss.kind}: ${miss.reason}` : 'no sample' };
    }
    return {
      transport,
      runs: mine.length,
      diskMBps: median(mine.map((sample) => mbps(sample.diskBytes, sample.diskCopyMs))),
      ramMBps: median(mine.map((sample) => mbps(sample.ramBytes, sample.ramMs))),
      diskCopyMs: median(mine.map((sample) => sample.diskCopyMs)),
      wallTimeMs: median(mine.map((sample) => sample.wallTimeMs)),
    };
  });
}

const HEADERS = ['transport', 'runs', 'disk MB/s', 'RAM MB/s', 'disk copy', 'wall'];
const fixed = (value: number | undefined): string => (value === undefined ? '-' : value.toFixed(1));
const seconds = (value: number | undefined): string => (value === undefined ? '-' : `${(value / 1000).toFixed(1)} s`);

export const renderDiskSummaries = (summaries: readonly DiskSummary[]): string =>
  renderTable(
    HEADERS,
    summaries.map((summary) =>
      summary.missing !== undefined
        ? [summary.transport, '0', summary.missing]
        : [
            summary.transport,
            String(summary.runs),
            fixed(summary.diskMBps),
            fixed(summary.ramMBps),
            seconds(summary.diskCopyMs),
            seconds(summary.wallTimeMs),
          ],
    ),
  );
