// The benchmark's human table: one line per transport, aligned columns, plain text (it goes into README too).
import type { Side, Summary } from './stats.js';

const HEADERS = [
  'transport',
  'runs',
  'MB/s',
  '× direct',
  'overhead',
  'downtime guest / QEMU',
  'peak RSS MiB src / dst / ctl',
  'CPU s/GiB src / dst / ctl',
  'targets',
];
const SIDES: Side[] = ['source', 'destination', 'controller'];

const fixed = (value: number | undefined, digits: number): string =>
  value === undefined ? '-' : value.toFixed(digits);
const ms = (value: number | undefined): string => (value === undefined ? '-' : `${Math.round(value)} ms`);

function targetsCell(summary: Summary): string {
  const entries = Object.entries(summary.targets);
  if (summary.reference) return '(reference)';
  if (entries.length === 0) return '-';
  const missed = entries.filter(([, met]) => !met).map(([name]) => name);
  return missed.length === 0 ? 'all met' : `missed: ${missed.join(', ')}`;
}

export function summaryRow(summary: Summary): string[] {
  if (summary.missing !== undefined) return [summary.transport, '0', summary.missing];
  const downtime =
    summary.guestDowntimeMs === undefined
      ? `- / ${ms(summary.qemuDowntimeMs)}`
      : `${ms(summary.guestDowntimeMs)} / ${ms(summary.qemuDowntimeMs)}`;
  const rss = SIDES.map((side) => fixed(summary.peakRssMiB[side], 0)).join(' / ');
  const cpu = SIDES.map((side) => fixed(summary.cpuPerGiB[side], 2)).join(' / ');
  return [
    summary.transport,
    String(summary.runs),
    fixed(summary.medianMBps, 1),
    fixed(summary.ratioToDirect, 2),
    ms(summary.overheadMs),
    downtime,
    rss,
    cpu,
    targetsCell(summary),
  ];
}

/** Left-aligned columns separated by two spaces; a short row (a missing transport) runs its last cell on. */
export function renderTable(headers: readonly string[], rows: readonly string[][]): string {
  const full = rows.filter((row) => row.length === headers.length);
  const widths = headers.map((header, column) => Math.max(header.length, ...full.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

const SHORT: Record<Side, string> = { source: 'src', destination: 'dst', controller: 'ctl' };

/**
 * Per-stream CPU of a row whose streams run in pump processes, e.g.
 * `tls-p4 per stream CPU s/GiB: src max 0.31, sum 1.02 (5 pumps); dst max 0.29, sum 0.98 (5 pumps)`:
 * on a host with a core per stream, the busiest pump (max) bounds throughput; sum is the cores all of them take.
 */
export function pumpLine(summary: Summary): string | undefined {
  const sides = SIDES.filter((side) => summary.pumpCpuPerGiB?.[side]);
  if (sides.length === 0) return undefined;
  const parts = sides.map((side) => {
    const { max, sum, pumps } = summary.pumpCpuPerGiB![side]!;
    return `${SHORT[side]} max ${max.toFixed(2)}, sum ${sum.toFixed(2)} (${pumps} pump${pumps === 1 ? '' : 's'})`;
  });
  return `${summary.transport} per stream CPU s/GiB: ${parts.join('; ')}`;
}

export const renderSummaries = (summaries: readonly Summary[]): string =>
  renderTable(HEADERS, summaries.map(summaryRow));
