// Migration progress for the three audiences: a live line on a TTY, plain lines in a log, NDJSON for scripts.
// Remaining bytes can grow between passes, so we show the pass and what is left in it, never a percentage.
import type { MigrationPhase, MigrationReporter } from '../controller/migrate.js';
import type { MigrationProgress } from '../qemu/migration-stats.js';
import { formatBytes, formatDuration, type Output } from './output.js';

/** Plain (non-TTY) output repeats a progress line at most this often. */
const PLAIN_PROGRESS_INTERVAL_MS = 5_000;

export function describeProgress(progress: MigrationProgress): string {
  const parts = [
    `pass ${Math.max(progress.pass, 1)}`,
    `${formatBytes(progress.transferredBytes)} sent`,
    `${formatBytes(progress.remainingBytes)} left in this pass`,
    `${formatBytes(progress.throughputBps)}/s`,
  ];
  if (progress.dirtyRateBps > 0) parts.push(`dirtying ${formatBytes(progress.dirtyRateBps)}/s`);
  if (progress.expectedDowntimeMs !== undefined && progress.pass > 1) parts.push(`expected downtime ${formatDuration(progress.expectedDowntimeMs)}`);
  if (progress.throughputBps > 0 && progress.remainingBytes > 0) parts.push(`~${formatDuration((progress.remainingBytes / progress.throughputBps) * 1000)} for this pass`);
  return parts.join(', ');
}

export interface ProgressRenderer extends MigrationReporter {
  stop(): void;
}

export async function createProgressRenderer(output: Output, json: boolean): Promise<ProgressRenderer> {
  if (json) {
    return {
      phase: (phase, detail) => output.event({ type: 'phase', time: new Date().toISOString(), phase, detail }),
      progress: (progress) => output.event({ type: 'progress', time: new Date().toISOString(), ...progress }),
      warning: (message) => output.event({ type: 'warning', time: new Date().toISOString(), message }),
      stop: () => undefined,
    };
  }
  if (output.options.quiet) return { phase: () => undefined, progress: () => undefined, warning: (message) => output.warn(message), stop: () => undefined };
  const phaseStarted = new Map<MigrationPhase, number>();
  const timing = (phase: MigrationPhase) => {
    phaseStarted.set(phase, Date.now());
  };
  if (output.interactive) {
    const { default: ora } = await import('ora');
    const spinner = ora({ stream: process.stderr, color: 'cyan', isEnabled: true }).start();
    let label = '';
    return {
      phase(phase, detail) {
        timing(phase);
        label = detail;
        spinner.text = `${output.chalk.bold(phase)}: ${detail}`;
      },
      progress(progress) {
        spinner.text = `${output.chalk.bold('copying')}: ${describeProgress(progress)}`;
        void label;
      },
      warning(message) {
        spinner.clear();
        output.warn(message);
        spinner.render();
      },
      stop() {
        spinner.stop();
      },
    };
  }
  let lastProgressLine = 0;
  return {
    phase(phase, detail) {
      timing(phase);
      output.info(`${phase}: ${detail}`);
    },
    progress(progress) {
      const now = Date.now();
      if (now - lastProgressLine < PLAIN_PROGRESS_INTERVAL_MS) return;
      lastProgressLine = now;
      output.info(`progress: ${describeProgress(progress)}`);
    },
    warning: (message) => output.warn(message),
    stop: () => undefined,
  };
}
