// The evacuation report, pure: what happened to each guest, where the agents say it runs now, the summary
// and the exit code. Exit 0 only when every selected guest moved AND the source, read back, runs none of them.
import { ExitCode } from '../errors.js';
import type { EvacGuest, EvacuationPlan } from './evacuate-plan.js';

export type GuestStatus =
  | 'planned'
  | 'migrating'
  | 'migrated'
  | 'retrying'
  | 'failed'
  | 'unplaced'
  | 'not-started'
  | 'needs-recovery'
  | 'skipped';

export interface AttemptReport {
  destination: string;
  status: 'migrated' | 'failed' | 'needs-recovery';
  timeMs: number;
  error?: { code: string; message: string };
}

export interface GuestReport {
  domain: string;
  memoryMiB: number;
  status: GuestStatus;
  /** Where it went, or was last meant to go; null when it was never placed. */
  destination: string | null;
  /** Where the agents list it after the run (null: on none of the hosts that answered). */
  finalHost: string | null;
  timeMs: number;
  attempts: AttemptReport[];
  /** Why it was skipped, left unplaced or not started. */
  reason?: string;
  error: { code: string; message: string } | null;
}

export interface EvacuationReport {
  type: 'report';
  jobId: string;
  source: string;
  destinations: string[];
  status: 'evacuated' | 'partial' | 'needs-recovery' | 'dry-run';
  /** Set when SIGTERM/SIGINT or `vmig evacuate --abort` stopped the scheduling. */
  aborted: string | null;
  guests: GuestReport[];
  summary: {
    total: number;
    migrated: number;
    failed: number;
    unplaced: number;
    notStarted: number;
    needsRecovery: number;
    skipped: number;
    /** Selected guests the source still runs, as read back from its agent (null: it could not be read). */
    remainingOnSource: string[] | null;
    timeMs: number;
  };
  exitCode: number;
}

function entry(guest: EvacGuest, status: GuestStatus, destination: string | null, reason?: string): GuestReport {
  return {
    domain: guest.name,
    memoryMiB: guest.memoryMiB,
    status,
    destination,
    finalHost: null,
    timeMs: 0,
    attempts: [],
    error: null,
    ...(reason ? { reason } : {}),
  };
}

/** The report's row of every guest of the plan (skipped, unplaced, then placed), before anything ran. */
export function plannedReports(plan: EvacuationPlan): {
  reports: GuestReport[];
  unplaced: GuestReport[];
  placed: Array<{ guest: EvacGuest; destination: string; report: GuestReport }>;
} {
  const skipped = plan.skipped.map(({ guest, reason }) => entry(guest, 'skipped', null, reason));
  const unplaced = plan.unplaced.map(({ guest, reason }) => entry(guest, 'unplaced', null, reason));
  const placed = plan.placements.map(({ guest, destination, reason }) => ({
    guest,
    destination,
    report: entry(guest, 'planned', destination, reason),
  }));
  return { reports: [...skipped, ...unplaced, ...placed.map(({ report }) => report)], unplaced, placed };
}

/** A guest that moved: its last attempt succeeded on `destination`. */
export function recordMigrated(report: GuestReport, destination: string, attemptMs: number, guestMs: number): void {
  report.attempts.push({ destination, status: 'migrated', timeMs: attemptMs });
  report.status = 'migrated';
  report.timeMs = guestMs;
  delete report.reason;
}

/** A failed attempt on `destination`; the guest's status is set by what follows (retry, failed, needs recovery). */
export function recordFailure(
  report: GuestReport,
  destination: string,
  error: { code: string; message: string },
  attemptMs: number,
  guestMs: number,
): void {
  report.timeMs = guestMs;
  report.error = error;
  report.attempts.push({
    destination,
    status: error.code === 'NEEDS_RECOVERY' ? 'needs-recovery' : 'failed',
    timeMs: attemptMs,
    error,
  });
}

/** Exit code for an evacuation that left guests on the source (each still running there, safely). */
export const EXIT_PARTIAL = ExitCode.partial;

export function finishReport(input: {
  jobId: string;
  source: string;
  destinations: string[];
  dryRun: boolean;
  aborted: string | null;
  guests: GuestReport[];
  /** Guest name → hosts listing it; undefined when the source could not be read back. */
  readBack: Map<string, string[]> | undefined;
  sourceLabel: string;
  /** Names the filters leave to the source on purpose. */
  skippedNames: ReadonlySet<string>;
  timeMs: number;
}): EvacuationReport {
  const { guests, readBack } = input;
  let remainingOnSource: string[] | null = null;
  if (readBack) {
    remainingOnSource = [...readBack.entries()]
      .filter(([name, hosts]) => hosts.includes(input.sourceLabel) && !input.skippedNames.has(name))
      .map(([name]) => name)
      .sort();
    for (const guest of guests) {
      const hosts = readBack.get(guest.domain) ?? [];
      guest.finalHost = hosts.length === 0 ? null : hosts.join(',');
    }
  }
  const count = (status: GuestStatus) => guests.filter((guest) => guest.status === status).length;
  const summary = {
    total: guests.length,
    migrated: count('migrated'),
    failed: count('failed'),
    unplaced: count('unplaced'),
    notStarted: count('not-started'),
    needsRecovery: count('needs-recovery'),
    skipped: count('skipped'),
    remainingOnSource,
    timeMs: input.timeMs,
  };
  let status: EvacuationReport['status'];
  let exitCode: number;
  if (input.dryRun) {
    status = 'dry-run';
    exitCode = ExitCode.ok;
  } else if (summary.needsRecovery > 0 || remainingOnSource === null) {
    status = 'needs-recovery';
    exitCode = ExitCode.needsRecovery;
  } else if (remainingOnSource.length > 0 || summary.migrated < summary.total - summary.skipped) {
    status = 'partial';
    exitCode = EXIT_PARTIAL;
  } else {
    status = 'evacuated';
    exitCode = ExitCode.ok;
  }
  return {
    type: 'report',
    jobId: input.jobId,
    source: input.source,
    destinations: input.destinations,
    status,
    aborted: input.aborted,
    guests,
    summary,
    exitCode,
  };
}

/** One line for the operator (and for the error line of a run that did not empty the source). */
export function describeOutcome(report: EvacuationReport): string {
  const { summary } = report;
  const moved = `${summary.migrated} of ${summary.total - summary.skipped} guests moved`;
  if (report.status === 'evacuated') return `${report.source} evacuated: ${moved}, it runs none of them any more`;
  if (report.status === 'dry-run') return `dry run: nothing was changed`;
  if (summary.remainingOnSource === null)
    return `${report.source} could not be read back after the evacuation (${moved}); check with: vmig -c ${report.source} list`;
  const problems = report.guests
    .filter((guest) => guest.status !== 'migrated' && guest.status !== 'skipped')
    .map(
      (guest) =>
        `${guest.domain} ${guest.status}${guest.error ? `: ${guest.error.message}` : guest.reason ? `: ${guest.reason}` : ''}`,
    );
  const recovery =
    report.status === 'needs-recovery'
      ? '; resolve the guests that need recovery with the vmig recover command in their error'
      : '';
  const remaining =
    summary.remainingOnSource.length > 0 ? `, still on ${report.source}: ${summary.remainingOnSource.join(', ')}` : '';
  return `${report.source} not evacuated${report.aborted ? ` (${report.aborted})` : ''}: ${moved}${remaining}${problems.length ? ` (${problems.join('; ')})` : ''}${recovery}`;
}
