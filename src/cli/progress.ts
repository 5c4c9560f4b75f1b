// Migration progress for the three audiences: a live line on a TTY, plain lines in a log, NDJSON for scripts.
// Remaining bytes can grow between passes, so we show the pass and what is left in it, never a percentage.
import type { MigrationStep, MigrationReporter } from '../controller/migrate.js';
import type { MigrationProgress } from '../qemu/migration-stats.js';
import type { PhaseEvent, ProgressEvent, WarningEvent } from './json-events.js';
import { formatBytes, formatDuration } from '../util/format.js';
import { useColor, type Output } from './output.js';

/** Plain (non-TTY) output repeats a progress line at most this often. */
const PLAIN_PROGRESS_INTERVAL_MS = 5_000;

/** QEMU statuses in which the guest is already paused for the final copy. */
const SWITCHING_OVER = new Set(['pre-switchover', 'device']);

/** What an operator calls each phase. */
const PHASE_LABELS: Record<MigrationStep, string> = {
  begin: 'connecting',
  prepare: 'preparing',
  perform: 'copying',
  finish: 'switching over',
  confirm: 'finishing',
  rollback: 'rolling back',
};

/** While the disks copy, before memory: "disks 3.1 / 20 GiB, then memory". */
export function describeDisks(progress: MigrationProgress): string {
  const disks = progress.disks ?? [];
  const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(bytes < 10 * 1024 ** 3 ? 2 : 1);
  const copied = disks.reduce((sum, disk) => sum + disk.copiedBytes, 0);
  const total = disks.reduce((sum, disk) => sum + disk.totalBytes, 0);
  const each =
    disks.length > 1
      ? ` (${disks.map((disk) => `${disk.target} ${disk.ready ? 'ready' : `${gib(disk.copiedBytes)}/${gib(disk.totalBytes)}`}`).join(', ')})`
      : '';
  return `disks ${gib(copied)} / ${gib(total)} GiB${each}, then memory`;
}

export function describeProgress(progress: MigrationProgress): string {
  if (progress.status === 'disks') return describeDisks(progress);
  const parts = [
    `pass ${Math.max(progress.pass, 1)}`,
    `${formatBytes(progress.transferredBytes)} sent`,
    `${formatBytes(progress.remainingBytes)} left in this pass`,
    `${formatBytes(progress.throughputBps)}/s`,
  ];
  if (progress.dirtyRateBps > 0) parts.push(`dirtying ${formatBytes(progress.dirtyRateBps)}/s`);
  if (progress.expectedDowntimeMs !== undefined && progress.pass > 1)
    parts.push(`expected downtime ${formatDuration(progress.expectedDowntimeMs)}`);
  if (progress.pass > 1 && progress.dirtyRateBps > 0 && progress.dirtyRateBps >= progress.throughputBps)
    parts.push('not converging: the guest dirties memory as fast as it is sent');
  else if (progress.throughputBps > 0 && progress.remainingBytes > 0)
    parts.push(`~${formatDuration((progress.remainingBytes / progress.throughputBps) * 1000)} for this pass`);
  return parts.join(', ');
}

/** The live line's compact form (the label already names the pass): what is left of the pass comes first. */
export function describeLive(progress: MigrationProgress): string {
  if (progress.status === 'disks') return describeDisks(progress);
  const parts = [
    `${formatBytes(progress.remainingBytes)} left`,
    `${formatBytes(progress.transferredBytes)} sent`,
    `${formatBytes(progress.throughputBps)}/s`,
  ];
  if (progress.pass > 1 && progress.dirtyRateBps > 0 && progress.dirtyRateBps >= progress.throughputBps)
    parts.push('not converging');
  else if (progress.throughputBps > 0 && progress.remainingBytes > 0)
    parts.push(`~${formatDuration((progress.remainingBytes / progress.throughputBps) * 1000)} to go`);
  if (progress.dirtyRateBps > 0) parts.push(`dirtying ${formatBytes(progress.dirtyRateBps)}/s`);
  if (progress.expectedDowntimeMs !== undefined && progress.pass > 1)
    parts.push(`downtime ~${formatDuration(progress.expectedDowntimeMs)}`);
  return parts.join(', ');
}

/** The live TTY line's label: the phase, and within the copy which pass (or the switch-over). */
export function liveLabel(phase: MigrationStep, progress?: MigrationProgress): string {
  if (phase !== 'perform' || !progress) return PHASE_LABELS[phase];
  if (SWITCHING_OVER.has(progress.status)) return 'switching over';
  if (progress.status === 'disks') return 'copying disks';
  return `copying pass ${Math.max(progress.pass, 1)}`;
}

export interface PhaseTiming {
  phase: MigrationStep;
  ms: number;
}

export interface ProgressRenderer extends MigrationReporter {
  stop(): void;
  /** Wall time per phase so far, in order (for --verbose and the --json result). */
  timings(): PhaseTiming[];
}

/** Records when each phase began; a phase ends when the next begins (or at stop). */
class PhaseClock {
  private readonly started: Array<{ phase: MigrationStep; at: number }> = [];
  private stoppedAt: number | undefined;
  enter(phase: MigrationStep): void {
    if (this.started.at(-1)?.phase !== phase) this.started.push({ phase, at: Date.now() });
  }
  stop(): void {
    this.stoppedAt ??= Date.now();
  }
  timings(): PhaseTiming[] {
    return this.started.map(({ phase, at }, index) => ({
      phase,
      ms: (this.started[index + 1]?.at ?? this.stoppedAt ?? Date.now()) - at,
    }));
  }
}

const now = () => new Date().toISOString();

export async function createProgressRenderer(output: Output, json: boolean): Promise<ProgressRenderer> {
  const clock = new PhaseClock();
  const base = { timings: () => clock.timings() };
  if (json) {
    return {
      ...base,
      phase: (phase, detail) => {
        clock.enter(phase);
        output.event({ type: 'phase', time: now(), phase, detail } satisfies PhaseEvent);
      },
      progress: (progress) => output.event({ type: 'progress', time: now(), ...progress } satisfies ProgressEvent),
      warning: (message) => output.event({ type: 'warning', time: now(), message } satisfies WarningEvent),
      stop: () => clock.stop(),
    };
  }
  if (output.options.quiet) {
    return {
      ...base,
      phase: (phase) => clock.enter(phase),
      progress: () => undefined,
      warning: (message) => output.warn(message),
      stop: () => clock.stop(),
    };
  }
  // A terminal that reports no width (a bare pty) would make ora clear an unbounded number of lines.
  if (output.interactive && (process.stderr.columns ?? 0) > 20) {
    const { default: ora } = await import('ora');
    const { chalk } = output;
    // ora colours its spinner with the default chalk, which ignores NO_COLOR/--no-color: decide for it.
    const coloured = useColor(process.stderr, output.options.color);
    const spinner = ora({
      stream: process.stderr,
      color: coloured ? 'cyan' : false,
      isEnabled: true,
      discardStdin: false,
    }).start();
    const started = Date.now();
    let current: MigrationStep = 'begin';
    let detail = '';
    // One line, never wrapped: a wrapped spinner line leaves copies of itself behind when the terminal is resized.
    const render = (label: string, text: string) => {
      const elapsed = `(${formatDuration(Date.now() - started)})`;
      const room = (process.stderr.columns ?? 80) - 4 - label.length - 2 - elapsed.length;
      const fitted = text.length <= room ? text : `${text.slice(0, Math.max(0, room - 1))}…`;
      spinner.text = `${chalk.bold(label)}: ${fitted} ${chalk.dim(elapsed)}`;
    };
    return {
      ...base,
      phase(phase, text) {
        clock.enter(phase);
        current = phase;
        detail = text;
        render(liveLabel(phase), detail);
      },
      progress(progress) {
        render(liveLabel(current, progress), describeLive(progress));
      },
      warning(message) {
        spinner.clear();
        output.warn(message);
        spinner.render();
      },
      stop() {
        clock.stop();
        spinner.stop();
      },
    };
  }
  let lastProgressLine = 0;
  return {
    ...base,
    phase(phase, detail) {
      clock.enter(phase);
      output.info(`${phase}: ${detail}`);
    },
    progress(progress) {
      const at = Date.now();
      if (at - lastProgressLine < PLAIN_PROGRESS_INTERVAL_MS) return;
      lastProgressLine = at;
      output.info(`progress: ${describeProgress(progress)}`);
    },
    warning: (message) => output.warn(message),
    stop: () => clock.stop(),
  };
}
