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
  afterFailure,
  destinationRows,
  destinationsProblem,
  MAX_ATTEMPTS,
  planEvacuation,
  sameHostProblem,
  selectedBy,
  type DestinationFacts,
  type EvacGuest,
  type EvacuationPlan,
} from './evacuate-plan.js';
import {
  finishReport,
  plannedReports,
  recordFailure,
  recordMigrated,
  type EvacuationReport,
  type GuestReport,
} from './evacuate-report.js';
import { gatherDiskFacts } from './evacuate-disk-facts.js';
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
/** Progress of one guest reaches the sink at most this often. */
const PROGRESS_EVERY_MS = 2_000;

/** One evacuation as the runner holds it: its connections, and what each step leaves for the next. */
interface Evacuation {
  request: EvacuationRequest;
  sink: EvacuationSink;
  jobId: string;
  /** Replaced when the read-back reopens it. */
  source: HostConnection;
  /** The usable --to hosts, by the name the operator gave. */
  connections: Map<string, HostConnection>;
  /** --to hosts whose connection closed mid-run, with the reason. */
  lost: Map<string, string>;
  /** Warnings already shown: each once per run, not once per guest. */
  warned: Set<string>;
}

/** Whether new migrations may start: stopped by a signal, a lost source or `vmig evacuate --abort`. */
interface Scheduling {
  /** Why scheduling stopped; null while it runs. */
  readonly aborted: string | null;
  /** Asks the source whether an --abort came in. */
  poll(): Promise<void>;
  /** Everything is scheduled: later events are not reasons to stop any more. */
  end(): void;
}

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

const unusableFacts = (host: string, why: string): DestinationFacts => ({
  host,
  unusable: why,
  memAvailableMiB: 0,
  hostHeadroomMiB: 0,
  guests: [],
});

/** Opens every --to host once; one that cannot be reached, or is the source itself, is left out with the reason. */
async function gatherDestinations(run: Evacuation): Promise<DestinationFacts[]> {
  const { request, source, connections, lost } = run;
  const unusable = new Map<string, string>();
  const opened = await Promise.allSettled(request.destinations.map((host) => request.open(host)));
  opened.forEach((result, index) => {
    const host = request.destinations[index]!;
    if (result.status === 'rejected') {
      unusable.set(host, `is unreachable (${describeError(result.reason)})`);
      return;
    }
    const connection = result.value;
    const others = [...connections.values()].map((other) => other.hello.hostId);
    const same = sameHostProblem(connection.hello.hostId, source.hello.hostId, others);
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

/** Copied disks: each selected guest's needs and each destination's free space where they would go. */
async function addDiskFacts(run: Evacuation, guests: EvacGuest[], facts: DestinationFacts[]): Promise<void> {
  const { request } = run;
  const selected = guests
    .filter(
      (guest) => guest.state !== 'incoming' && selectedBy(guest.name, request.only, request.exclude) === undefined,
    )
    .map((guest) => guest.name);
  // Options a destination cannot resolve fail that guest's migration later, as they always did.
  const storageFor = (host: string) => {
    try {
      return request.migration(host).storage;
    } catch {
      return undefined;
    }
  };
  const disks = await gatherDiskFacts(run.source, run.connections, selected, storageFor);
  for (const guest of guests) {
    const needs = disks.needs.get(guest.name);
    if (needs) guest.diskNeeds = needs;
  }
  for (const fact of facts) {
    const spaces = disks.spaces.get(fact.host);
    if (spaces) fact.diskSpace = spaces;
  }
}

/** Gather → plan: every host's facts, planEvacuation() over them, the plan shown. */
async function gatherAndPlan(run: Evacuation): Promise<EvacuationPlan> {
  const { request, sink } = run;
  const facts = await gatherDestinations(run);
  const guests = await sourceGuests(run.source);
  await addDiskFacts(run, guests, facts);
  const plan = planEvacuation(guests, facts, {
    headroomMiB: request.headroomMiB,
    only: request.only,
    exclude: request.exclude,
  });
  sink.plan(plan, destinationRows(plan, facts));
  return plan;
}

/** Stops scheduling on the first signal, on losing the source, or on an --abort the source's agent reports. */
function watchForStop(run: Evacuation): Scheduling {
  const { request, sink, source, jobId } = run;
  let aborted: string | null = null;
  let scheduling = true;
  const stop = (why: string) => {
    if (aborted || !scheduling) return;
    aborted = why;
    sink.notice(`${why}: starting no new migrations; the ones in flight finish`);
  };
  if (request.stop.aborted) stop('interrupted');
  request.stop.addEventListener('abort', () => stop('interrupted'), { once: true });
  // Without the source nothing can start; its guests stay where they are.
  source.events.once('closed', (reason) =>
    stop(`lost the connection to ${request.source} (${describeError(reason ?? 'closed')})`),
  );
  const poll = async (): Promise<void> => {
    const status = await source.call('evacuation.status', { jobId }).catch(() => undefined);
    if (status?.abortRequested) stop(`aborted by vmig evacuate --abort from ${status.requestedBy ?? 'another shell'}`);
  };
  const timer = setInterval(() => void poll(), request.abortPollMs ?? 1_000);
  return {
    get aborted() {
      return aborted;
    },
    poll,
    end() {
      scheduling = false;
      clearInterval(timer);
    },
  };
}

/** One migrate() of `guest` to `destination`; resolves to the error, or undefined when the guest moved. */
async function attempt(run: Evacuation, guest: EvacGuest, destination: string): Promise<unknown> {
  const { request, sink, source, connections, lost, warned } = run;
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
          if (Date.now() - lastProgress < PROGRESS_EVERY_MS) return;
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
    return undefined;
  } catch (error) {
    return error ?? new Error('migration failed');
  }
}

/** Act for one guest: migrate it, and after a failure do what afterFailure() says (at most one retry elsewhere). */
async function runGuest(
  run: Evacuation,
  plan: EvacuationPlan,
  scheduling: Scheduling,
  placed: { guest: EvacGuest; destination: string; report: GuestReport },
): Promise<void> {
  const { sink } = run;
  const { guest, report } = placed;
  const tried = new Set<string>();
  const guestStarted = Date.now();
  let destination = placed.destination;
  for (let number = 1; ; number++) {
    // Asked right before each start, so that an --abort never loses a race with the poll.
    await scheduling.poll();
    if (scheduling.aborted) {
      report.status = 'not-started';
      report.reason = scheduling.aborted;
      sink.guest(report, `not started (${scheduling.aborted})`);
      return;
    }
    tried.add(destination);
    report.status = 'migrating';
    report.destination = destination;
    sink.guest(report, `migrating to ${destination} (${guest.memoryMiB} MiB, attempt ${number} of ${MAX_ATTEMPTS})`);
    const attemptStarted = Date.now();
    const error = await attempt(run, guest, destination);
    if (error === undefined) {
      recordMigrated(report, destination, Date.now() - attemptStarted, Date.now() - guestStarted);
      sink.guest(report, `migrated to ${destination} in ${((Date.now() - attemptStarted) / 1000).toFixed(1)} s`);
      return;
    }
    const code = isVmigError(error) ? error.code : 'INTERNAL';
    const wire = { code, message: describeError(error) };
    recordFailure(report, destination, wire, Date.now() - attemptStarted, Date.now() - guestStarted);
    const next = afterFailure(plan, guest, {
      code,
      failedOn: destination,
      attempt: number,
      tried,
      ...(run.lost.has(destination) ? { lost: run.lost.get(destination)! } : {}),
      stopped: scheduling.aborted !== null,
    });
    if (next.kind === 'needs-recovery') {
      report.status = 'needs-recovery';
      sink.guest(report, `needs recovery: ${wire.message}`);
      return;
    }
    if (next.kind === 'failed') {
      report.status = 'failed';
      if (next.notRetried) report.error = { code, message: `${wire.message}; not retried: ${next.notRetried}` };
      sink.guest(report, `failed on ${destination}: ${report.error!.message}`);
      return;
    }
    report.status = 'retrying';
    sink.guest(report, `failed on ${destination} (${wire.message}); retrying on ${next.destination}`);
    destination = next.destination;
  }
}

export async function evacuate(request: EvacuationRequest, sink: EvacuationSink): Promise<EvacuationReport> {
  const started = Date.now();
  const problem = destinationsProblem(request.source, request.destinations);
  if (problem) throw new VmigError(problem.code, problem.message);
  const run: Evacuation = {
    request,
    sink,
    jobId: randomUUID(),
    source: await request.open(request.source),
    connections: new Map(),
    lost: new Map(),
    warned: new Set(),
  };
  let locked = false;
  let scheduling: Scheduling | undefined;
  try {
    if (!request.dryRun) {
      await run.source.call('evacuation.lock', { jobId: run.jobId, controller: hostname() });
      locked = true;
    }
    const plan = await gatherAndPlan(run);
    const { reports, unplaced, placed } = plannedReports(plan);
    for (const report of unplaced) sink.guest(report, `not placed: ${report.reason}`);
    let readBack: Map<string, string[]> | undefined;
    if (!request.dryRun) {
      scheduling = watchForStop(run);
      const limit = pLimit(Math.max(1, request.maxParallel));
      await Promise.all(placed.map((guest) => limit(() => runGuest(run, plan, scheduling!, guest))));
      scheduling.end();
      // The agents, not our bookkeeping, say where each guest runs now.
      readBack = await readBackHosts(run).catch(() => undefined);
    }
    return finishReport({
      jobId: run.jobId,
      source: request.source,
      destinations: request.destinations,
      dryRun: request.dryRun,
      aborted: scheduling?.aborted ?? null,
      guests: reports,
      readBack,
      sourceLabel: request.source,
      skippedNames: new Set(plan.skipped.map((skipped) => skipped.guest.name)),
      timeMs: Date.now() - started,
    });
  } finally {
    scheduling?.end();
    if (locked) await run.source.call('evacuation.unlock', { jobId: run.jobId }).catch(() => undefined);
    await Promise.all(
      [run.source, ...run.connections.values()].map((connection) => connection.close().catch(() => undefined)),
    );
  }
}

/** Lists every host; the source is reopened once if its connection died, since it alone decides exit 0. */
async function readBackHosts(run: Evacuation): Promise<Map<string, string[]>> {
  const { request, connections, lost } = run;
  const where = new Map<string, string[]>();
  const add = (rows: Array<{ name: string }>, host: string) => {
    for (const row of rows) where.set(row.name, [...(where.get(row.name) ?? []), host]);
  };
  let sourceRows: Array<{ name: string }>;
  try {
    sourceRows = await run.source.call('domain.list');
  } catch {
    await run.source.close().catch(() => undefined);
    run.source = await request.open(request.source);
    sourceRows = await run.source.call('domain.list');
  }
  add(sourceRows, request.source);
  for (const [host, connection] of connections) {
    if (lost.has(host)) continue;
    const rows = await connection.call('domain.list').catch(() => []);
    add(rows, host);
  }
  return where;
}
