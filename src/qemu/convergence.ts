// Convergence control, pure: which QEMU capabilities and parameters the operator's options mean on each side,
// when to switch to post-copy, and how to tell "not converging" (bytes move, the guest dirties them as fast)
// from progress. "Stalled" (no byte moves at all) is StallDetector's business, and fatal; this never is.
import { z } from 'zod';
import { intSchema } from '../options/config-schema.js';
import { type ConvergenceOptions, postcopyEnabled, TIMEOUT_ACTIONS, type TimeoutAction } from '../options/table.js';
import type { MigrationProgress } from './migration-stats.js';

// What the options are is the options table's; what they make QEMU do is this module's.
export { type ConvergenceOptions, postcopyEnabled, TIMEOUT_ACTIONS, type TimeoutAction };

/** The options as they travel from the controller to the agents (ranges from the options table). */
export const convergenceSchema = z
  .object({
    autoConverge: z.boolean().optional(),
    autoConvergeInitialPct: intSchema('autoConvergeInitial').optional(),
    autoConvergeIncrementPct: intSchema('autoConvergeIncrement').optional(),
    postcopy: z.boolean().optional(),
    postcopyAfterPrecopy: z.boolean().optional(),
    parallel: intSchema('parallel').optional(),
    compressed: z.boolean().optional(),
    timeoutMs: z.number().int().min(1000).optional(),
    timeoutAction: z.enum(TIMEOUT_ACTIONS).optional(),
    downtimeSteps: intSchema('downtimeSteps').optional(),
  })
  .default({});

/** --postcopy-after-precopy: switch once the bulk pass is over (QEMU counts its second dirty sync). */
export function postcopyDue(
  options: ConvergenceOptions,
  progress: Pick<MigrationProgress, 'pass' | 'status'>,
): boolean {
  return options.postcopyAfterPrecopy === true && progress.status === 'active' && progress.pass >= 2;
}

/**
 * --downtime-steps N --max-downtime M: the downtime limits to go through, M/N, 2M/N, … M. A short pause is
 * tried first; a longer one is allowed only when the guest proves it needs it (see ConvergenceWatch).
 */
export function downtimeSchedule(maxDowntimeMs: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, index) => Math.ceil((maxDowntimeMs * (index + 1)) / steps));
}

/** Options that would help a guest that does not converge, for the warning, minus those already given. */
export function convergenceHints(options: ConvergenceOptions): string[] {
  const hints: string[] = [];
  if (!options.autoConverge) hints.push('--auto-converge');
  if (!postcopyEnabled(options)) hints.push('--postcopy-after-precopy');
  if (options.timeoutMs === undefined) hints.push('--timeout with --timeout-action suspend');
  hints.push(
    options.downtimeSteps
      ? 'a higher --bandwidth or --max-downtime'
      : 'a higher --bandwidth or --max-downtime (or --downtime-steps)',
  );
  return hints;
}

/** What ConvergenceWatch remembers, as plain data (the perform policy keeps it in its state). */
export interface PassSamples {
  readonly atPass: ReadonlyArray<{ pass: number; remaining: number; transferred: number }>;
  readonly warned: boolean;
}
export const NO_PASSES: PassSamples = { atPass: [], warned: false };

/**
 * Watches the remaining bytes at each pass start: when over `passes` passes they did not shrink by at least
 * `shrinkRatio` while bytes kept moving, the guest dirties memory as fast as the stream carries it.
 * Pure: returns the new samples and whether non-convergence shows now (true exactly once).
 */
export function observePasses(
  samples: PassSamples,
  progress: Pick<MigrationProgress, 'pass' | 'remainingBytes' | 'transferredBytes'>,
  passes = 3,
  shrinkRatio = 0.9,
): { samples: PassSamples; notConverging: boolean } {
  const last = samples.atPass[samples.atPass.length - 1];
  if (progress.pass < 1 || (last && progress.pass <= last.pass)) return { samples, notConverging: false };
  const atPass = [
    ...samples.atPass,
    { pass: progress.pass, remaining: progress.remainingBytes, transferred: progress.transferredBytes },
  ];
  if (samples.warned || atPass.length <= passes)
    return { samples: { atPass, warned: samples.warned }, notConverging: false };
  const then = atPass[atPass.length - 1 - passes]!;
  const now = atPass[atPass.length - 1]!;
  const notConverging = now.transferred > then.transferred && !(now.remaining < then.remaining * shrinkRatio);
  return { samples: { atPass, warned: notConverging }, notConverging };
}

/** observePasses() with its samples kept inside. */
export class ConvergenceWatch {
  private samples = NO_PASSES;

  constructor(
    private readonly passes = 3,
    private readonly shrinkRatio = 0.9,
  ) {}

  /** True exactly once: the first time the samples show non-convergence. */
  observe(progress: Pick<MigrationProgress, 'pass' | 'remainingBytes' | 'transferredBytes'>): boolean {
    const { samples, notConverging } = observePasses(this.samples, progress, this.passes, this.shrinkRatio);
    this.samples = samples;
    return notConverging;
  }
}
