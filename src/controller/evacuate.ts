// The evacuation runner: gather (connect, lock the source, read every host's facts) → plan (evacuate-plan.ts)
// → act (migrate() per guest, at most maxParallel at once, one retry elsewhere) → verify (read every guest's
// host back from the agents) → report (evacuate-report.ts). One agent connection per host serves the whole
// run: the agent keys its per-migration state by migration id, so migrations share it safely.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pLimit from 'p-limit';
import { VmigError, describeError, isVmigError } from '../errors.js';
import type { HostConnection } from '../hosts/connection.js';
import type { MigrationProgress } from '../qemu/migration-stats.js';
import {
  markUnusable,
  planEvacuation,
  planRetry,
  type DestinationFacts,
  type EvacGuest,
  type EvacuationPlan,
} from './evacuate-plan.js';
import { finishReport, type EvacuationReport, type GuestReport } from './evacuate-report.js';
import { migrate, type MigrateRequest, type MigrationStep } from './migrate.js';

/** The per-guest options of `vmig migrate` (transport, persistence, bandwidth, downtime, ports…). */
export type GuestMigrationOptions = Omit<MigrateRequest, 'domain' | 'source' | 'destination' | 'signal'>;

export interface EvacuationRequest {
  source: string;
  /** Exactly as the operator typed them; never patterns. */
  destinations: string[];
  open(uri: string): Promise<HostConnection>;
  maxParallel: number;
  headroomMiB: number;
  only: string[];
  exclude: string[];
  dryRun: boolean;
  /** The per-guest migrate options for a destination (flags, then that host's config entry). */
  migration(destination: string): GuestMigrationOptions;
  /** Aborted: schedule nothing new (first SIGTERM/SIGINT). */
  stop: AbortSignal;
  /** Aborted: also cancel the copies in flight (a second signal). */
  cancel: AbortSignal;
  abortPollMs?: number;
}

export interface EvacuationSink {
  plan(plan: EvacuationPlan, destinations: Array<{ host: string; freeMiB: number | null; unusable?: string }>): void;
  guest(guest: GuestReport, detail: string): void;
  phase(domain: string, phase: MigrationStep, detail: string): void;
  progress(domain: string, progress: MigrationProgress): void;
  warning(message: string): void;
  notice(message: string): void;
}

const MiB = 1024 * 1024;
/** These say the guest itself cannot move now: another destination would not help. */
const NOT_RETRYABLE = new Set([
  'DOMAIN_NOT_FOUND',
  'DOMAIN_NOT_RUNNING',
  'LOCKED',
  'MIGRATION_ABORTED',
  'NEEDS_RECOVERY',
]);

async function destinationFacts(host: string, connection: HostConnection): Promise<DestinationFacts> {
  const info = await connection.call('host.info');
  return {
    host,
    memAvailableMiB: Math.floor(info.memAvailableBytes / MiB),
    hostHeadroomMiB: info.memoryHeadroomMiB ?? 0,
    ...(info.guestMemoryLimitMiB !== undefined ? { guestMemoryLimitMiB: info.guestMemoryLimitMiB } : {}),
    guests: info.guests,
  };
}

async function sourceGuests(source: HostConnection): Promise<EvacGuest[]> {
  const [rows, info] = await Promise.all([source.call('domain.list'), source.call('host.info')]);
  const memory = new Map(info.guests.map((guest) => [guest.name, guest.memoryMiB]));
  return rows.map((row) => ({ name: row.name, state: row.state, memoryMiB: memory.get(row.name) ?? 0 }));
}

/** Opens every --to host once; one that cannot be reached, or is the source itself, is left out with the reason. */
async function gatherDestinations(
  request: EvacuationRequest,
  source: HostConnection,
  connections: Map<string, HostConnection>,
  lost: Map<string, string>,
): Promise<DestinationFacts[]> {
  const unusable = new Map<string, string>();
  const opened = await Promise.allSettled(request.destinations.map((host) => request.open(host)));
  opened.forEach((result, index) => {
    const host = request.destinations[index]!;
    if (result.status === 'rejected') {
      unusable.set(host, `is unreachable (${describeError(result.reason)})`);
      return;
    }
    const connection = result.value;
    const same =
      connection.hello.hostId === source.hello.hostId
        ? 'is the source host itself'
        : [...connections.values()].some((other) => other.hello.hostId === connection.hello.hostId)
          ? 'is the same host as another --to destination'
          : undefined;
    if (same) {
      void connection.close().catch(() => undefined);
      unusable.set(host, same);
      return;
    }
    connections.set(host, connection);
    connection.events.once('closed', (reason) =>
      lost.set(host, `connection lost (${describeError(reason ?? 'closed')})`),
    );
  });
  const unusableFacts = (host: string, why: string): DestinationFacts => ({
    host,
    unusable: why,
    memAvailableMiB: 0,
    hostHeadroomMiB: 0,
    guests: [],
  });
  return Promise.all(
    request.destinations.map((host) => {
      const connection = connections.get(host);
      if (!connection) return unusableFacts(host, unusable.get(host)!);
      return destinationFacts(host, connection).catch((error) =>
        unusableFacts(host, `did not report its memory (${describeError(error)})`),
      );
    }),
  );
}

export async function evacuate(request: EvacuationRequest, sink: EvacuationSink): Promise<EvacuationReport> {
  const started = Date.now();
  const jobId = randomUUID();
  const duplicate = request.destinations.find((host, index) => request.destinations.indexOf(host) !== index);
  if (duplicate !== undefined) throw new VmigError('USAGE', `--to names ${duplicate} twice`);
  if (request.destinations.includes(request.source))
    throw new VmigError('SAME_HOST', `--to names the source ${request.source} itself`);

  const connections = new Map<string, HostConnection>();
  const lost = new Map<string, string>();
  let source = await request.open(request.source);
  let locked = false;
  const abortPoll: { timer?: NodeJS.Timeout } = {};
  try {
    if (!request.dryRun) {
      await source.call('evacuation.lock', { jobId, controller: hostname() });
      locked = true;
    }
    const facts = await gatherDestinations(request, source, connections, lost);
    const guests = await sourceGuests(source);
    const plan = planEvacuation(guests, facts, {
      headroomMiB: request.headroomMiB,
      only: request.only,
      exclude: request.exclude,
    });
    sink.plan(
      plan,
      facts.map((fact) => ({
        host: fact.host,
        freeMiB: plan.ledger.get(fact.host) ?? null,
        ...(fact.unusable ? { unusable: fact.unusable } : {}),
      })),
    );

    const reports: GuestReport[] = [];
    const entry = (
      guest: EvacGuest,
      status: GuestReport['status'],
      destination: string | null,
      reason?: string,
    ): GuestReport => {
      const report: GuestReport = {
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
      reports.push(report);
      return report;
    };
    for (const { guest, reason } of plan.skipped) entry(guest, 'skipped', null, reason);
    for (const { guest, reason } of plan.unplaced)
      sink.guest(entry(guest, 'unplaced', null, reason), `not placed: ${reason}`);
    const placed = plan.placements.map((placement) => ({
      placement,
      report: entry(placement.guest, 'planned', placement.destination, placement.reason),
    }));

    let aborted: string | null = null;
    let scheduling = true;
    const stopScheduling = (why: string) => {
      if (aborted || !scheduling) return;
      aborted = why;
      sink.notice(`${why}: starting no new migrations; the ones in flight finish`);
    };
    if (!request.dryRun) {
      if (request.stop.aborted) stopScheduling('interrupted');
      request.stop.addEventListener('abort', () => stopScheduling('interrupted'), { once: true });
      // Without the source nothing can start; its guests stay where they are.
      source.events.once('closed', (reason) =>
        stopScheduling(`lost the connection to ${request.source} (${describeError(reason ?? 'closed')})`),
      );
      const pollAbort = () =>
        source
          .call('evacuation.status', { jobId })
          .then(
            (status) =>
              status.abortRequested &&
              stopScheduling(`aborted by vmig evacuate --abort from ${status.requestedBy ?? 'another shell'}`),
          )
          .catch(() => undefined);
      abortPoll.timer = setInterval(() => void pollAbort(), request.abortPollMs ?? 1_000);
      const warned = new Set<string>();
      const runGuest = async (guest: EvacGuest, first: string, report: GuestReport): Promise<void> => {
        const tried = new Set<string>();
        const guestStarted = Date.now();
        let destination = first;
        for (let attempt = 1; ; attempt++) {
          // Asked right before each start, so that an --abort never loses a race with the poll.
          await pollAbort();
          if (aborted) {
            report.status = 'not-started';
            report.reason = aborted;
            sink.guest(report, `not started (${aborted})`);
            return;
          }
          tried.add(destination);
          report.status = 'migrating';
          report.destination = destination;
          sink.guest(report, `migrating to ${destination} (${guest.memoryMiB} MiB, attempt ${attempt} of 2)`);
          const attemptStarted = Date.now();
          let error: unknown;
          try {
            const connection = connections.get(destination);
            if (!connection || lost.has(destination))
              throw new VmigError('HOST_UNREACHABLE', `${destination} ${lost.get(destination) ?? 'is not connected'}`);
            let lastProgress = 0;
            await migrate(
              {
                ...request.migration(destination),
                domain: guest.name,
                source,
                destination: connection,
                signal: request.cancel,
              },
              {
                phase: (phase, detail) => sink.phase(guest.name, phase, detail),
                progress: (progress) => {
                  if (Date.now() - lastProgress < 2_000) return;
                  lastProgress = Date.now();
                  sink.progress(guest.name, progress);
                },
                warning: (message) => {
                  if (warned.has(message)) return;
                  warned.add(message);
                  sink.warning(message);
                },
              },
            );
            report.attempts.push({ destination, status: 'migrated', timeMs: Date.now() - attemptStarted });
            report.status = 'migrated';
            report.timeMs = Date.now() - guestStarted;
            delete report.reason;
            sink.guest(report, `migrated to ${destination} in ${((Date.now() - attemptStarted) / 1000).toFixed(1)} s`);
            return;
          } catch (caught) {
            error = caught;
          }
          const code = isVmigError(error) ? error.code : 'INTERNAL';
          const wire = { code, message: describeError(error) };
          report.timeMs = Date.now() - guestStarted;
          report.error = wire;
          if (code === 'NEEDS_RECOVERY') {
            report.attempts.push({
              destination,
              status: 'needs-recovery',
              timeMs: Date.now() - attemptStarted,
              error: wire,
            });
            report.status = 'needs-recovery';
            sink.guest(report, `needs recovery: ${wire.message}`);
            return;
          }
          report.attempts.push({ destination, status: 'failed', timeMs: Date.now() - attemptStarted, error: wire });
          if (lost.has(destination)) markUnusable(plan, destination, lost.get(destination)!);
          if (attempt >= 2 || NOT_RETRYABLE.has(code) || aborted) {
            report.status = 'failed';
            sink.guest(report, `failed on ${destination}: ${wire.message}`);
            return;
          }
          const retry = planRetry(plan, guest, tried, destination);
          if (!('destination' in retry)) {
            report.status = 'failed';
            report.error = { code, message: `${wire.message}; not retried: ${retry.reason}` };
            sink.guest(report, `failed on ${destination}: ${report.error.message}`);
            return;
          }
          report.status = 'retrying';
          sink.guest(report, `failed on ${destination} (${wire.message}); retrying on ${retry.destination}`);
          destination = retry.destination;
        }
      };
      const limit = pLimit(Math.max(1, request.maxParallel));
      await Promise.all(
        placed.map(({ placement, report }) => limit(() => runGuest(placement.guest, placement.destination, report))),
      );
    }

    scheduling = false;
    clearInterval(abortPoll.timer);
    let readBack: Map<string, string[]> | undefined;
    if (!request.dryRun) {
      // The agents, not our bookkeeping, say where each guest runs now.
      readBack = await readBackHosts(request, source, connections, lost, (reopened) => (source = reopened)).catch(
        () => undefined,
      );
    }
    return finishReport({
      jobId,
      source: request.source,
      destinations: request.destinations,
      dryRun: request.dryRun,
      aborted,
      guests: reports,
      readBack,
      sourceLabel: request.source,
      skippedNames: new Set(plan.skipped.map((skipped) => skipped.guest.name)),
      timeMs: Date.now() - started,
    });
  } finally {
    clearInterval(abortPoll.timer);
    if (locked) await source.call('evacuation.unlock', { jobId }).catch(() => undefined);
    await Promise.all([source, ...connections.values()].map((connection) => connection.close().catch(() => undefined)));
  }
}

/** Lists every host; the source is reopened once if its connection died, since it alone decides exit 0. */
async function readBackHosts(
  request: EvacuationRequest,
  source: HostConnection,
  connections: Map<string, HostConnection>,
  lost: Map<string, string>,
  replaceSource: (connection: HostConnection) => void,
): Promise<Map<string, string[]>> {
  const where = new Map<string, string[]>();
  const add = (rows: Array<{ name: string }>, host: string) => {
    for (const row of rows) where.set(row.name, [...(where.get(row.name) ?? []), host]);
  };
  let sourceRows: Array<{ name: string }>;
  try {
    sourceRows = await source.call('domain.list');
  } catch {
    await source.close().catch(() => undefined);
    const reopened = await request.open(request.source);
    replaceSource(reopened);
    sourceRows = await reopened.call('domain.list');
  }
  add(sourceRows, request.source);
  for (const [host, connection] of connections) {
    if (lost.has(host)) continue;
    const rows = await connection.call('domain.list').catch(() => []);
    add(rows, host);
  }
  return where;
}
