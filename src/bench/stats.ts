// The benchmark's arithmetic: samples of single migrations → one summary row per transport, checked against
// the targets of issue 8. Pure (no I/O), so it is unit-tested.

/**
 * vmig's own transports, run through the CLI; `-pN` is the same transport with --parallel N (N + 1 streams);
 * p2p is ssh with --p2p (the source host's own ssh carries the stream, the controller none of it).
 */
export const VMIG_TRANSPORTS = ['direct', 'tls', 'ssh', 'tls-p2', 'ssh-p2', 'tls-p4', 'p2p'] as const;
/** Rows measured only when --transports names them (they add wall time for one target each). */
export const OPT_IN_TRANSPORTS: readonly BenchTransport[] = ['tls-p4'];
/**
 * Plain QEMU migration for comparison: through an OpenSSH `-L` forward, through stunnel (TLS), and with QEMU's
 * own TLS (a tls-creds-psk object, no tunnel).
 */
export const REFERENCE_TRANSPORTS = ['openssh', 'stunnel', 'qemu-tls'] as const;
export type BenchTransport = (typeof VMIG_TRANSPORTS)[number] | (typeof REFERENCE_TRANSPORTS)[number];

export type Side = 'source' | 'destination' | 'controller';

/** One completed migration. Times in ms, sizes in bytes, RSS in KiB (as /proc reports it). */
export interface Sample {
  transport: BenchTransport;
  round: number;
  from: string;
  to: string;
  /** QEMU's ram.transferred. */
  transferredBytes: number;
  /** QEMU's total-time. */
  qemuTotalTimeMs: number;
  /** QEMU's own downtime figure. */
  qemuDowntimeMs: number;
  /** The driver's wall time from the start of the migration to the guest running on the destination. */
  wallTimeMs: number;
  /** Destination RESUME minus source STOP (QMP event times), when both were reported. */
  guestDowntimeMs?: number;
  /** Peak RSS (VmHWM) of the largest watched process on each side. */
  peakRssKiB: Partial<Record<Side, number>>;
  /** CPU seconds (user + sys) of each side's watched processes during the migration (pumps included). */
  cpuSeconds?: Partial<Record<Side, number>>;
  /** CPU seconds of each stream's pump process, per side (tls: one pump per stream on either end). */
  pumpCpuSeconds?: Partial<Record<Side, number[]>>;
  /** The source QEMU's max-bandwidth parameter (bytes/s) as the stream ran, when reported. */
  maxBandwidthBps?: number;
  /** Wall time of each migration phase (vmig rows: from the --json phase events), to see where overhead goes. */
  phaseMs?: Record<string, number>;
}

/** A transport that produced no sample: the CLI refused it, or the migration failed. */
export interface Miss {
  transport: BenchTransport;
  kind: 'unavailable' | 'failed';
  reason: string;
  /** The migration completed (the guest moved) but gave no usable figures. */
  moved?: boolean;
}

export const TARGETS = {
  /** Minimum median throughput as a fraction of direct's, in the same run. */
  ratio: { tls: 0.6, ssh: 0.4, 'tls-p2': 0.6, 'ssh-p2': 0.4, 'tls-p4': 0.6 } as Partial<Record<BenchTransport, number>>,
  /** Minimum median throughput as a fraction of a reference row's, in the same run. */
  reference: { p2p: 'openssh' } as Partial<Record<BenchTransport, BenchTransport>>,
  overheadMs: 1000,
  addedDowntimeMs: 50,
  rssMiB: 150,
};

/** One side's pumps: CPU s/GiB of the busiest one and of all together, and how many there were. */
export interface PumpCpu {
  max: number;
  sum: number;
  pumps: number;
}

export interface Summary {
  transport: BenchTransport;
  reference: boolean;
  runs: number;
  /** Set when there is no sample: why. */
  missing?: string;
  medianMBps?: number;
  /** Median MB/s over direct's median MB/s. */
  ratioToDirect?: number;
  /** Median of wall time minus QEMU's total-time. */
  overheadMs?: number;
  qemuDowntimeMs?: number;
  guestDowntimeMs?: number;
  /** Median of guest-visible downtime minus QEMU's own figure. */
  addedDowntimeMs?: number;
  /** Highest peak RSS seen on each side over all runs, MiB. */
  peakRssMiB: Partial<Record<Side, number>>;
  /** Median CPU seconds per GiB moved, per side. */
  cpuPerGiB: Partial<Record<Side, number>>;
  /** Pumps, per side: median over runs of the busiest pump's and of all pumps' CPU seconds per GiB moved. */
  pumpCpuPerGiB?: Partial<Record<Side, PumpCpu>>;
  /** Median MB/s over the median MB/s of the reference row this transport is held against (TARGETS.reference). */
  ratioToReference?: number;
  /** Target name → met; only the targets that apply to this transport and could be measured. */
  targets: Record<string, boolean>;
}

/** QMP timestamps have microseconds: a tenth of a millisecond is plenty. */
export const roundMs = (ms: number): number => Math.round(ms * 10) / 10;

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Decimal megabytes per second of RAM moved, by QEMU's own clock. */
export const throughputMBps = (sample: Pick<Sample, 'transferredBytes' | 'qemuTotalTimeMs'>): number =>
  sample.qemuTotalTimeMs > 0 ? sample.transferredBytes / 1e6 / (sample.qemuTotalTimeMs / 1000) : 0;

const isReference = (transport: BenchTransport): boolean =>
  (REFERENCE_TRANSPORTS as readonly string[]).includes(transport);

export function summarize(
  order: readonly BenchTransport[],
  samples: readonly Sample[],
  misses: readonly Miss[],
): Summary[] {
  const medianOf = (transport: BenchTransport) =>
    median(samples.filter((s) => s.transport === transport).map(throughputMBps));
  const directMedian = medianOf('direct');
  return order.map((transport) => {
    const mine = samples.filter((s) => s.transport === transport);
    const reference = isReference(transport);
    const peakRssMiB: Summary['peakRssMiB'] = {};
    for (const sample of mine) {
      for (const [side, kib] of Object.entries(sample.peakRssKiB) as [Side, number][]) {
        peakRssMiB[side] = Math.max(peakRssMiB[side] ?? 0, Math.round((kib / 1024) * 10) / 10);
      }
    }
    if (mine.length === 0) {
      const miss = misses.filter((m) => m.transport === transport).at(-1);
      return {
        transport,
        reference,
        runs: 0,
        missing: miss ? `${miss.kind} (${miss.reason})` : 'not run',
        peakRssMiB,
        cpuPerGiB: {},
        targets: {},
      };
    }
    const medianMBps = median(mine.map(throughputMBps))!;
    const against = TARGETS.reference[transport];
    const referenceMedian = against ? medianOf(against) : undefined;
    const pumps = pumpCpuPerGiB(mine);
    const guestDowntimes = mine.flatMap((s) => (s.guestDowntimeMs === undefined ? [] : [s.guestDowntimeMs]));
    const added = mine.flatMap((s) => (s.guestDowntimeMs === undefined ? [] : [s.guestDowntimeMs - s.qemuDowntimeMs]));
    const summary: Summary = {
      transport,
      reference,
      runs: mine.length,
      medianMBps,
      ...(directMedian ? { ratioToDirect: medianMBps / directMedian } : {}),
      overheadMs: median(mine.map((s) => s.wallTimeMs - s.qemuTotalTimeMs))!,
      qemuDowntimeMs: median(mine.map((s) => s.qemuDowntimeMs))!,
      ...(guestDowntimes.length ? { guestDowntimeMs: median(guestDowntimes)!, addedDowntimeMs: median(added)! } : {}),
      peakRssMiB,
      cpuPerGiB: cpuPerGiB(mine),
      ...(Object.keys(pumps).length ? { pumpCpuPerGiB: pumps } : {}),
      ...(referenceMedian ? { ratioToReference: medianMBps / referenceMedian } : {}),
      targets: {},
    };
    summary.targets = checkTargets(summary);
    return summary;
  });
}

function cpuPerGiB(samples: readonly Sample[]): Partial<Record<Side, number>> {
  const sides = [...new Set(samples.flatMap((s) => Object.keys(s.cpuSeconds ?? {}) as Side[]))];
  return Object.fromEntries(
    sides.map((side) => [
      side,
      median(
        samples.flatMap((s) =>
          s.cpuSeconds?.[side] === undefined ? [] : [s.cpuSeconds[side]! / (s.transferredBytes / 1024 ** 3)],
        ),
      ),
    ]),
  );
}

/**
 * Each side's pumps over the samples that have any: the median of the busiest pump's CPU s/GiB (the stream that
 * bounds throughput when every stream has a core of its own) and of their sum (the cores all streams take).
 */
export function pumpCpuPerGiB(samples: readonly Sample[]): Partial<Record<Side, PumpCpu>> {
  const sides = [...new Set(samples.flatMap((s) => Object.keys(s.pumpCpuSeconds ?? {}) as Side[]))];
  const result: Partial<Record<Side, PumpCpu>> = {};
  for (const side of sides) {
    const runs = samples.flatMap((s) => {
      const each = s.pumpCpuSeconds?.[side];
      if (!each?.length || s.transferredBytes <= 0) return [];
      const gib = s.transferredBytes / 1024 ** 3;
      return [{ max: Math.max(...each) / gib, sum: each.reduce((a, b) => a + b, 0) / gib, pumps: each.length }];
    });
    if (runs.length)
      result[side] = {
        max: median(runs.map((r) => r.max))!,
        sum: median(runs.map((r) => r.sum))!,
        pumps: Math.max(...runs.map((r) => r.pumps)),
      };
  }
  return result;
}

/** The targets apply to vmig's own transports; reference rows are only for comparison. */
function checkTargets(summary: Summary): Record<string, boolean> {
  if (summary.reference) return {};
  const targets: Record<string, boolean> = {};
  const ratio = TARGETS.ratio[summary.transport];
  if (ratio !== undefined && summary.ratioToDirect !== undefined)
    targets[`≥${ratio}× direct`] = summary.ratioToDirect >= ratio;
  const against = TARGETS.reference[summary.transport];
  if (against && summary.ratioToReference !== undefined) targets[`≥ ${against}`] = summary.ratioToReference >= 1;
  if (summary.overheadMs !== undefined)
    targets[`overhead ≤${TARGETS.overheadMs} ms`] = summary.overheadMs <= TARGETS.overheadMs;
  if (summary.addedDowntimeMs !== undefined)
    targets[`downtime +≤${TARGETS.addedDowntimeMs} ms`] = summary.addedDowntimeMs <= TARGETS.addedDowntimeMs;
  const rss = Object.values(summary.peakRssMiB);
  if (rss.length) targets[`RSS ≤${TARGETS.rssMiB} MiB`] = Math.max(...rss) <= TARGETS.rssMiB;
  return targets;
}

/** Median wall time of each phase over a transport's samples, in phase order. */
export function medianPhases(samples: readonly Sample[], transport: BenchTransport): Array<[string, number]> {
  const mine = samples.filter((s) => s.transport === transport && s.phaseMs);
  const phases = [...new Set(mine.flatMap((s) => Object.keys(s.phaseMs!)))];
  return phases.map((phase) => [phase, median(mine.map((s) => s.phaseMs![phase] ?? 0))!]);
}

/** QEMU's default max-bandwidth: 128 MiB/s (~134 MB/s). */
export const QEMU_DEFAULT_BANDWIDTH_BPS = 128 * 1024 * 1024;

/**
 * Whether direct ran under QEMU's default cap. The source's own max-bandwidth parameter decides when it was
 * reported; otherwise a direct median right at ~134 MB/s is suspicious.
 */
export function looksCapped(samples: readonly Sample[]): boolean {
  const direct = samples.filter((s) => s.transport === 'direct');
  const reported = direct.flatMap((s) => (s.maxBandwidthBps === undefined ? [] : [s.maxBandwidthBps]));
  if (reported.length) return reported.some((bps) => bps <= QEMU_DEFAULT_BANDWIDTH_BPS);
  const mbps = median(direct.map(throughputMBps));
  return mbps !== undefined && mbps > 125 && mbps < 140;
}
