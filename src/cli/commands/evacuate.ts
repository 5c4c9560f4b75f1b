// `vmig evacuate SRC --to DEST[,DEST...]`: moves every running guest off SRC, made for cron: a lock per
// source, one stderr line per guest per state change, NDJSON with --json, exit 0 only when SRC is empty.
import { hostname } from 'node:os';
import type { EvacuationPlan } from '../../controller/evacuate-plan.js';
import { describeOutcome, type EvacuationReport, type GuestReport } from '../../controller/evacuate-report.js';
import type { EvacuationSink } from '../../controller/evacuate.js';
import { VmigError } from '../../errors.js';
import { parseHostUri } from '../../hosts/uri.js';
import { describeProgress } from '../progress.js';
import { hostUriOf, openHost, withHost } from '../hosts.js';
import type { Action, GlobalOptions } from '../action.js';
import { formatDuration } from '../../util/format.js';
import { Output, table } from '../output.js';
import { parseWholeNumber } from '../../options/parse.js';
import { resolveMigrationOptions, type MigrationOptions } from '../../options/resolve.js';

const list = (value: unknown): string[] =>
  value === undefined
    ? []
    : String(value)
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');

/**
 * The per-guest options of `migrate`, for one destination (flags > that host's config entry > top level, as
 * `vmig migrate` decides). An address names one host: with several --to hosts, set it per host in the config.
 */
export function migrationOptionsFor(
  globals: GlobalOptions,
  options: Record<string, unknown>,
  destinations: string[],
): (destination: string) => MigrationOptions {
  if (destinations.length > 1) {
    for (const flag of ['listenAddress', 'migrateUri'] as const) {
      const name = flag === 'listenAddress' ? '--listen-address' : '--migrate-uri';
      if (options[flag] !== undefined)
        throw new VmigError(
          'USAGE',
          `${name} names one destination's address: give it with a single --to host, or set migration_address per host in the config file`,
        );
    }
  }
  return (destination) => {
    const migration = resolveMigrationOptions(options, globals.settings, destination, 'evacuate');
    // Per guest: its local disks go along; a guest on shared storage only moves its memory.
    return migration.storage ? { ...migration, storage: { ...migration.storage, whereLocal: true } } : migration;
  };
}

function sinkFor(output: Output, json: boolean, source: string, dryRun: boolean): EvacuationSink {
  const now = () => new Date().toISOString();
  const guestLine = (guest: GuestReport, detail: string) => output.info(`${guest.domain}: ${detail}`);
  return {
    plan(plan: EvacuationPlan, destinations) {
      if (json) {
        output.event({
          type: 'plan',
          time: now(),
          source,
          dryRun,
          destinations,
          placements: plan.placements.map((p) => ({
            domain: p.guest.name,
            memoryMiB: p.guest.memoryMiB,
            destination: p.destination,
            reason: p.reason,
          })),
          unplaced: plan.unplaced.map((u) => ({
            domain: u.guest.name,
            memoryMiB: u.guest.memoryMiB,
            reason: u.reason,
          })),
          skipped: plan.skipped.map((s) => ({ domain: s.guest.name, reason: s.reason })),
        });
        return;
      }
      const rows = [
        ...plan.placements.map((p) => [p.guest.name, `${p.guest.memoryMiB} MiB`, p.destination, p.reason]),
        ...plan.unplaced.map((u) => [u.guest.name, `${u.guest.memoryMiB} MiB`, '-', u.reason]),
        ...plan.skipped.map((s) => [s.guest.name, `${s.guest.memoryMiB} MiB`, '-', `skipped: ${s.reason}`]),
      ];
      const text = rows.length ? table(['GUEST', 'MEMORY', 'DESTINATION', 'WHY'], rows) : `${source} runs no guests`;
      const left = destinations.filter((d) => d.unusable).map((d) => `${d.host} left out: it ${d.unusable}`);
      // A dry run's plan is its result (stdout); a real run's plan is a log line for humans.
      if (dryRun) output.result([`Evacuation plan for ${source}:`, text, ...left].join('\n'));
      else output.info([`plan for ${source}:`, text, ...left].join('\n'));
    },
    guest(guest, detail) {
      if (json)
        output.event({
          type: 'guest',
          time: now(),
          domain: guest.domain,
          status: guest.status,
          destination: guest.destination,
          attempt: guest.attempts.length + (guest.status === 'migrating' ? 1 : 0),
          detail,
          error: guest.error,
        });
      else guestLine(guest, detail);
    },
    phase(domain, phase, detail) {
      if (json) output.event({ type: 'phase', time: now(), domain, phase, detail });
      else output.verbose(`${domain}: ${phase}: ${detail}`);
    },
    progress(domain, progress) {
      if (json) output.event({ type: 'progress', time: now(), domain, ...progress });
      else output.verbose(`${domain}: progress: ${describeProgress(progress)}`);
    },
    warning(message) {
      if (json) output.event({ type: 'warning', time: now(), message });
      else output.warn(message);
    },
    notice(message) {
      if (json) output.event({ type: 'notice', time: now(), message });
      else output.info(message);
    },
  };
}

function printReport(output: Output, json: boolean, report: EvacuationReport): void {
  if (json) {
    output.event({ ...report, time: new Date().toISOString() });
    return;
  }
  if (report.status === 'dry-run') return;
  const rows = report.guests.map((guest) => [
    guest.domain,
    guest.status,
    guest.finalHost ?? '?',
    guest.attempts.length ? formatDuration(guest.timeMs) : '-',
    guest.error?.message ?? (guest.status === 'migrated' ? '' : (guest.reason ?? '')),
  ]);
  if (rows.length) output.result(table(['GUEST', 'STATUS', 'NOW ON', 'TIME', 'ERROR'], rows));
  // Otherwise the same sentence is the error line main.ts prints.
  if (report.exitCode === 0) output.result(describeOutcome(report));
}

async function abortRunning(globals: GlobalOptions, source: string): Promise<void> {
  const output = new Output(globals);
  const { jobId } = await withHost({ ...globals, connect: source }, (host) =>
    host.call('evacuation.abort', { requestedBy: hostname() }),
  );
  if (globals.json) output.event({ type: 'abort', time: new Date().toISOString(), source, jobId });
  else
    output.result(
      `Asked evacuation ${jobId} of ${source} to stop: it starts no new migrations; the ones in flight finish`,
    );
}

const evacuateCommand: Action = async (globals, [source], options) => {
  // Checked before connecting anywhere: bad input changes nothing.
  parseHostUri(hostUriOf(globals, source!));
  if (options.abort) return abortRunning(globals, source!);
  const destinations = list(options.to);
  if (destinations.length === 0)
    throw new VmigError('USAGE', 'evacuate needs --to DEST[,DEST...] (or --abort to stop a running evacuation)');
  for (const destination of destinations) parseHostUri(hostUriOf(globals, destination));
  const maxParallel = parseWholeNumber(options.maxParallel ?? 2, '--max-parallel');
  const headroomMiB = parseWholeNumber(options.headroom ?? 0, '--headroom', 0);
  const migration = migrationOptionsFor(globals, options, destinations);
  const transports = destinations.map((destination) => migration(destination).transport);
  const dryRun = options.dryRun === true;
  const output = new Output(globals);
  if (!dryRun && transports.includes('direct')) {
    const warning = 'the direct transport sends guest memory unencrypted and unauthenticated over the network';
    if (globals.json) output.event({ type: 'warning', time: new Date().toISOString(), message: warning });
    else output.warn(warning);
  }

  const stop = new AbortController();
  const cancel = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      output.info(
        `${signal}: starting no new migrations; waiting for the ones in flight (send it again to cancel them)`,
      );
      stop.abort();
    } else {
      output.info(`${signal}: cancelling the migrations in flight; their guests stay on ${source}`);
      cancel.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let report: EvacuationReport;
  try {
    const { evacuate } = await import('../../controller/evacuate.js');
    report = await evacuate(
      {
        source: source!,
        destinations,
        open: (uri) => openHost(globals, uri),
        maxParallel,
        headroomMiB,
        only: list(options.only),
        exclude: list(options.exclude),
        dryRun,
        migration,
        stop: stop.signal,
        cancel: cancel.signal,
      },
      sinkFor(output, globals.json, source!, dryRun),
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  printReport(output, globals.json, report);
  if (report.exitCode === 4) throw new VmigError('NEEDS_RECOVERY', describeOutcome(report));
  if (report.exitCode !== 0) throw new VmigError('PARTIAL', describeOutcome(report));
};

export default evacuateCommand;
