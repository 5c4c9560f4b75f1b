// Source-side phases: Begin (check, export, lock), Perform (stream the guest out), Confirm (retire the old QEMU),
// and the ways back: Cancel (before completion) and Resume (the destination could not take over).
import { z } from 'zod';
import { assertDomainName } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { migrationIdSchema } from '../protocol/ids.js';
import { TERMINAL_STATUSES, outgoingStatus, toOutcome, toProgress, type MigrationOutcome, type QueryMigrate } from '../qemu/migration-stats.js';
import { QmpClient } from '../qemu/qmp.js';
import { cookieSchema, endpointSchema, type Cookie } from '../transports/cookie.js';
import { directOutgoingUri } from '../transports/direct.js';
import { openOutgoing } from '../transports/outgoing.js';
import { probeTcp, PROBE_TIMEOUT_MS } from '../transports/probe.js';
import { unlinkIfPresent } from '../util/fs.js';
import { sleep } from '../util/fs.js';
import type { AgentContext } from './context.js';
import { readDefinition } from './domains.js';
import type { Instance } from './instances.js';
import { runCleanups, type MigrationRegistry, type SourceMigration } from './migration-state.js';
import { StallDetector } from '../qemu/stall.js';
import { watchEventTime } from '../qemu/event-time.js';
import { pausePostcopy } from '../qemu/postcopy.js';
import { diskCopySchema, type SourceDisk } from '../storage/plan.js';
import { nbdAddressSchema, type NbdAddress } from '../storage/exports.js';
import { diskStream } from '../transports/streams.js';
import { describeDisks, Mirrors, waitUntilReady, toDiskProgress, diskPhaseProgress } from '../storage/mirror.js';
import type { DiskCopyProgress } from '../qemu/migration-stats.js';
import { ConvergenceWatch, convergenceHints, convergenceSchema, downtimeSchedule, postcopyDue, postcopyEnabled, sourceCapabilities, sourceParameters } from '../qemu/convergence.js';

/** Waits (bounded) until QEMU's migration state is final after a cancel. */
async function waitUntilTerminal(qmp: QmpClient): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const reply = await qmp.execute<QueryMigrate>('query-migrate').catch(() => ({ status: 'failed' }) as QueryMigrate);
    const status = outgoingStatus(reply);
    if (status === 'none' || TERMINAL_STATUSES.has(status)) return;
    await sleep(100);
  }
}

/** QEMU statuses worth waking the perform loop for at once, rather than at the next progress tick. */
const WAKE_STATUSES = new Set([...TERMINAL_STATUSES, 'postcopy-active', 'postcopy-paused', 'pre-switchover']);

const beginParams = z.object({ name: z.string(), migrationId: migrationIdSchema, controller: z.string(), peer: z.string() });
const performParams = z.object({
  migrationId: migrationIdSchema,
  cookie: cookieSchema,
  /** MiB/s; 0 means no cap beyond the link. */
  bandwidthMiBs: z.number().int().min(0).default(0),
  maxDowntimeMs: z.number().int().min(1).optional(),
  progressIntervalMs: z.number().int().min(50).max(10_000).default(500),
  /** A stream that moves no byte for this long is declared dead and cancelled (slow progress alone never is). */
  stallTimeoutMs: z.number().int().min(1_000).default(30_000),
  convergence: convergenceSchema,
  /** Storage migration: the disks to mirror before memory, and where the destination exports them on TCP (direct). */
  storage: z
    .object({
      copies: z.array(diskCopySchema).min(1),
      synchronousWrites: z.boolean().default(false),
      nbd: nbdAddressSchema.optional(),
    })
    .optional(),
});
const idParams = z.object({ migrationId: migrationIdSchema });
const tunnelParams = z.object({ migrationId: migrationIdSchema, cookie: cookieSchema });
const probeParams = z.object({ migrationId: migrationIdSchema, endpoint: endpointSchema, timeoutMs: z.number().int().min(100).max(30_000).default(PROBE_TIMEOUT_MS) });
const confirmParams = z.object({ migrationId: migrationIdSchema, undefineSource: z.boolean().default(false) });

/** QEMU takes bytes/s; "no cap" is its maximum. */
const UNLIMITED_BANDWIDTH = Number.MAX_SAFE_INTEGER;

export function sourceHandlers(context: AgentContext, registry: MigrationRegistry) {
  const { instances } = context;

  function sourceMigration(migrationId: string): SourceMigration {
    const migration = registry.get(migrationId);
    if (!migration || migration.role !== 'source') throw new VmigError('NO_JOB', `no migration ${migrationId} on ${context.host}`);
    return migration;
  }

  async function liveInstance(migration: SourceMigration): Promise<Instance> {
    const instance = await instances.find(migration.name);
    if (!instance) throw new VmigError('MIGRATION_FAILED', `the QEMU of ${migration.name} on ${context.host} is gone`);
    return instance;
  }

  async function agentQmp(migration: SourceMigration): Promise<QmpClient> {
    if (migration.qmp && !migration.qmp.isClosed) return migration.qmp;
    const instance = await liveInstance(migration);
    migration.qmp = await QmpClient.connect(instance.paths.qmpSocket);
    return migration.qmp;
  }

  /** After a failed or cancelled stream QEMU may leave the guest paused: put it back as it was. */
  async function restoreSource(migration: SourceMigration): Promise<void> {
    const qmp = await agentQmp(migration);
    const status = await qmp.execute<{ status: string }>('query-status');
    if (migration.wasRunning && status.status !== 'running') await qmp.execute('cont');
  }

  /** Where QEMU sends the stream: the destination itself (direct) or this agent's tunnel, opened once. */
  async function outgoingUri(migration: SourceMigration, cookie: Cookie): Promise<string> {
    if (cookie.migrationId !== migration.migrationId) throw new VmigError('COOKIE_REJECTED', `the cookie belongs to another migration than ${migration.migrationId}`);
    if (cookie.transport === 'direct') return directOutgoingUri(cookie);
    if (migration.tunnel) return migration.tunnel.uri;
    const instance = await liveInstance(migration);
    const tunnel = await openOutgoing(cookie, instance.paths.dir, context.log);
    migration.cleanups.push(() => tunnel.end.close());
    migration.tunnel = { transport: tunnel.transport, uri: tunnel.uri, sockets: tunnel.sockets, failure: tunnel.failure };
    return tunnel.uri;
  }

  /** Stops the disk mirrors of a migration that will not complete; the source's own disks are untouched. */
  async function cancelMirrors(migration: SourceMigration): Promise<void> {
    const mirrors = migration.mirrors;
    migration.mirrors = undefined;
    if (!mirrors) return;
    await mirrors.cancel().catch((error: Error) => context.log(`cancelling the disk mirrors of ${migration.migrationId} failed: ${error.message}`));
  }

  /** Mirrors every copied disk to the destination's export and waits until all have caught up. */
  async function copyDisks(migration: SourceMigration, qmp: QmpClient, options: z.infer<typeof performParams>, signal: AbortSignal): Promise<{ disks: DiskCopyProgress[]; ms: number } | undefined> {
    const storage = options.storage;
    if (!storage) return undefined;
    if (postcopyEnabled(options.convergence)) throw new VmigError('USAGE', 'post-copy cannot be combined with copied disks');
    const addressOf = (target: string): NbdAddress => {
      if (storage.nbd) return storage.nbd;
      // The stream disk-<target> of the migration's stream set starts at this socket (tls: this agent; ssh: the controller).
      const path = migration.tunnel?.sockets.find((socket) => socket.streams.includes(diskStream(target)))?.path;
      if (!path) throw new VmigError('INTERNAL', `no stream for disk ${target} of migration ${migration.migrationId}`);
      return { type: 'unix', path };
    };
    const started = Date.now();
    const mirrors = new Mirrors(qmp, storage.copies, addressOf);
    migration.mirrors = mirrors;
    await mirrors.start({ synchronousWrites: storage.synchronousWrites, bandwidth: options.bandwidthMiBs * 1024 * 1024 });
    const disks = await waitUntilReady(qmp, mirrors, {
      intervalMs: options.progressIntervalMs,
      stallTimeoutMs: options.stallTimeoutMs,
      stopped: () => (migration.phase === 'done' ? `the migration of ${migration.name} was cancelled` : signal.aborted ? 'the controller disconnected' : undefined),
      onProgress: (figures) => context.emit('migration.progress', { migrationId: migration.migrationId, ...diskPhaseProgress(figures.map(toDiskProgress), Date.now() - started) }),
    });
    return { disks: disks.map(toDiskProgress), ms: Date.now() - started };
  }

  async function end(migration: SourceMigration, phase: 'cancelled' | 'confirmed' | 'resumed'): Promise<void> {
    migration.phase = 'done';
    await runCleanups(migration);
    migration.qmp?.close();
    await context.locks.release(migration.name, migration.migrationId);
    await context.journal.record({ migrationId: migration.migrationId, role: 'source', domain: migration.name, peer: migration.peer, phase });
    registry.delete(migration.migrationId);
  }

async function performStream(options: z.infer<typeof performParams>, migration: SourceMigration, signal: AbortSignal): Promise<MigrationOutcome> {
    if (options.cookie.expiresAt < Date.now()) throw new VmigError('COOKIE_REJECTED', `the destination's cookie for migration ${options.migrationId} has expired`);
    const qmp = await agentQmp(migration);
    // The switch-over's start, for the guest-visible downtime in the result (vmig's benchmark reports it).
    const stopWatch = watchEventTime(qmp, 'STOP');
    migration.phase = 'performing';
    await context.journal.record({ migrationId: migration.migrationId, role: 'source', domain: migration.name, peer: migration.peer, phase: 'performing' });
    const downtimeSteps = options.maxDowntimeMs && options.convergence.downtimeSteps ? downtimeSchedule(options.maxDowntimeMs, options.convergence.downtimeSteps) : undefined;
    // validate-uuid: the destination refuses a stream whose guest is not the one it was prepared for.
    await qmp.execute('migrate-set-capabilities', {
      capabilities: [
        { capability: 'validate-uuid', state: true },
        { capability: 'events', state: true },
        // With copied disks QEMU waits before the switch-over, so that the mirrors complete while the guest is paused.
        // Always set: the capability outlives this migration in the QEMU process.
        { capability: 'pause-before-switchover', state: options.storage !== undefined },
        ...sourceCapabilities(options.convergence),
      ],
    });
    await qmp.execute('migrate-set-parameters', {
      ...sourceParameters(options.convergence),
      'max-bandwidth': options.bandwidthMiBs > 0 ? options.bandwidthMiBs * 1024 * 1024 : UNLIMITED_BANDWIDTH,
      // --bandwidth caps post-copy's background copy too (QEMU's 0 means no cap there).
      'max-postcopy-bandwidth': options.bandwidthMiBs * 1024 * 1024,
      ...(options.maxDowntimeMs ? { 'downtime-limit': downtimeSteps?.[0] ?? options.maxDowntimeMs } : {}),
    });
    // Reported with the outcome, for `vmig migrate --verbose`: what QEMU actually used, not what we meant to set.
    const parameters = await qmp.execute<Record<string, unknown>>('query-migrate-parameters').catch(() => undefined);
    const uri = await outgoingUri(migration, options.cookie);
    // Disks first: memory follows once every mirror has caught up (and keeps mirroring each write until the switch-over).
    const diskCopy = await copyDisks(migration, qmp, options, signal);
    await qmp.execute('migrate', { uri });
    let reply: QueryMigrate;
    const stall = new StallDetector(options.stallTimeoutMs);
    const convergence = options.convergence;
    const watch = new ConvergenceWatch();
    let downtimeStep = 0;
    let stepWatch = new ConvergenceWatch();
    const performStarted = Date.now();
    let timeoutHandled = false;
    let postcopyRequested = false;
    // Once post-copy runs, the destination holds the authoritative guest: nothing below may resume the source.
    let postcopyStarted = false;
    const warn = (message: string) => context.emit('migration.warning', { migrationId: migration.migrationId, message });
    const startPostcopy = async (why: string) => {
      postcopyRequested = true;
      await qmp.execute('migrate-start-postcopy');
      warn(`${migration.name}: switching to post-copy (${why}); from now on the destination holds the guest`);
    };
    for (;;) {
      // Wake at once when QEMU announces the end: each millisecond here is added to the guest's downtime.
      // The switch to post-copy too: the destination resumes the guest as soon as the controller hears of it.
      // Listening before the query: an event sent while this iteration awaits something else is not missed.
      const wake = qmp
        .waitForEvent((event) => event.event === 'MIGRATION' && WAKE_STATUSES.has(String(event.data?.status)), options.progressIntervalMs)
        .catch(() => undefined);
      try {
        reply = await qmp.execute<QueryMigrate>('query-migrate');
      } catch (error) {
        // migrate.cancel (domjobabort, Ctrl-C) ended the job and closed the monitor under us.
        if ((migration.phase as SourceMigration['phase']) === 'done') throw new VmigError('MIGRATION_ABORTED', `the migration of ${migration.name} was cancelled`);
        throw error;
      }
      const status = outgoingStatus(reply);
      if (TERMINAL_STATUSES.has(status)) break;
      if (status === 'pre-switchover') {
        // The guest is paused: let each mirror drain its last writes and end (without pivoting), then switch over.
        const mirrors = migration.mirrors;
        migration.mirrors = undefined;
        await mirrors?.complete();
        try {
          await qmp.execute('migrate-continue', { state: 'pre-switchover' });
        } catch (error) {
          // Seen once in the e2e run: QEMU had already moved past pre-switchover. The mirrors completed above, so a
          // stream that went on (device, completed) is consistent; anything else is a real failure.
          const now = outgoingStatus(await qmp.execute<QueryMigrate>('query-migrate'));
          if (now !== 'device' && now !== 'completed') throw error;
        }
        continue;
      }
      if (status === 'none') {
        // QEMU has not started our stream yet (see outgoingStatus); it must within the stall timeout.
        if (signal.aborted) throw new VmigError('MIGRATION_ABORTED', 'the controller disconnected');
        if (Date.now() - performStarted > options.stallTimeoutMs) {
          await qmp.execute('migrate_cancel').catch(() => undefined);
          await restoreSource(migration);
          migration.phase = 'begun';
          throw new VmigError('MIGRATION_FAILED', `QEMU did not start the migration stream of ${migration.name} within ${Math.round(options.stallTimeoutMs / 1000)} s`);
        }
        await qmp.waitForEvent((event) => event.event === 'MIGRATION', 100).catch(() => undefined);
        continue;
      }
      const progress = toProgress(reply);
      const disks = migration.mirrors ? (await migration.mirrors.progress()).map(toDiskProgress) : diskCopy?.disks;
      context.emit('migration.progress', { migrationId: migration.migrationId, ...progress, ...(disks ? { disks } : {}) });
      if (progress.status.startsWith('postcopy') && !postcopyStarted) {
        postcopyStarted = true;
        // cancel refuses and a vanished controller holds the source (abandonSource): recovery decides, not us.
        migration.phase = 'completed';
      }
      if (!postcopyStarted && watch.observe(progress)) {
        warn(`${migration.name} is not converging: the guest dirties memory as fast as the stream moves it (remaining bytes did not shrink over several passes); consider ${convergenceHints(convergence).join(', ')}`);
      }
      if (downtimeSteps && downtimeStep < downtimeSteps.length - 1 && !postcopyStarted && stepWatch.observe(progress)) {
        // Not converging at this limit: allow the next step, and watch the following passes afresh.
        downtimeStep++;
        stepWatch = new ConvergenceWatch();
        await qmp.execute('migrate-set-parameters', { 'downtime-limit': downtimeSteps[downtimeStep] });
        warn(`${migration.name}: not converging with ${downtimeSteps[downtimeStep - 1]} ms of downtime; allowing ${downtimeSteps[downtimeStep]} ms (--downtime-steps, step ${downtimeStep + 1} of ${downtimeSteps.length})`);
      }
      if (!postcopyRequested && postcopyDue(convergence, progress)) await startPostcopy('--postcopy-after-precopy');
      if (!timeoutHandled && !postcopyStarted && convergence.timeoutMs !== undefined && Date.now() - performStarted >= convergence.timeoutMs) {
        timeoutHandled = true;
        const seconds = Math.round(convergence.timeoutMs / 1000);
        const action = convergence.timeoutAction ?? 'abort';
        if (action === 'abort') {
          await qmp.execute('migrate_cancel').catch(() => undefined);
          await waitUntilTerminal(qmp);
          await restoreSource(migration);
          migration.phase = 'begun';
          throw new VmigError('MIGRATION_FAILED', `the migration of ${migration.name} did not complete within --timeout ${seconds} s (--timeout-action abort)`);
        }
        if (action === 'suspend') {
          // A paused guest dirties nothing: the copy finishes; the destination resumes it in Finish as usual.
          await qmp.execute('stop');
          warn(`${migration.name}: not done after ${seconds} s, pausing the guest so the copy can finish (--timeout-action suspend)`);
        } else if (!postcopyRequested) {
          await startPostcopy(`--timeout ${seconds} s reached`);
        }
      }
      if (postcopyStarted && reply.status === 'postcopy-paused') {
        throw new VmigError('NEEDS_RECOVERY', `the post-copy stream of ${migration.name} broke (${reply['error-desc'] ?? 'connection lost'}); both sides are paused in post-copy, the guest's memory is split between them`);
      }
      if (postcopyStarted && stall.stalled(reply.ram?.transferred ?? 0, Date.now())) {
        // QEMU would wait on a silent socket for minutes: pausing makes the stream recoverable at once.
        await pausePostcopy(qmp);
        throw new VmigError('NEEDS_RECOVERY', `the post-copy stream of ${migration.name} moved no data for ${Math.round(options.stallTimeoutMs / 1000)} s; both sides are paused in post-copy, the guest's memory is split between them`);
      }
      if (stall.stalled(reply.ram?.transferred ?? 0, Date.now())) {
        await qmp.execute('migrate_cancel').catch(() => undefined);
        await waitUntilTerminal(qmp);
        await restoreSource(migration);
        migration.phase = 'begun';
        throw new VmigError('MIGRATION_FAILED', `the migration stream of ${migration.name} moved no data for ${Math.round(options.stallTimeoutMs / 1000)} s: the destination or the network to it stopped answering`);
      }
      // The controller is gone: abandonSource() now decides; this loop just stops watching.
      if (signal.aborted) throw new VmigError('MIGRATION_ABORTED', 'the controller disconnected');
      await wake;
    }
    if (reply.status === 'completed') {
      migration.phase = 'completed';
      // QEMU announces "completed" a moment before it has computed total-time and downtime (both read 0 until
      // then); woken by the event, we can be inside that moment. Wait (bounded) for the figures.
      for (let attempt = 0; attempt < 50 && !((reply['total-time'] ?? 0) > 0); attempt++) {
        await sleep(10);
        reply = await qmp.execute<QueryMigrate>('query-migrate').catch(() => reply);
      }
      await context.journal.record({ migrationId: migration.migrationId, role: 'source', domain: migration.name, peer: migration.peer, phase: 'completed' });
      stopWatch.stop();
      return {
        ...toOutcome(reply),
        ...(stopWatch.at !== undefined ? { sourceStopAt: stopWatch.at } : {}),
        ...(parameters ? { parameters } : {}),
        ...(diskCopy ? { disks: diskCopy.disks.map((disk) => ({ ...disk, copiedBytes: disk.totalBytes })), diskCopyMs: diskCopy.ms } : {}),
      };
    }
    const tunnelFailure = migration.tunnel?.failure();
    if (postcopyStarted) {
      throw new VmigError('NEEDS_RECOVERY', `the post-copy stream of ${migration.name} failed (${reply['error-desc'] ?? reply.status}); the destination holds the guest, the source stays paused`);
    }
    const reason = reply.status === 'cancelled' ? 'was cancelled' : `failed: ${reply['error-desc'] ?? 'QEMU gave no reason'}${tunnelFailure ? ` (${tunnelFailure})` : ''}`;
    await restoreSource(migration);
    migration.phase = 'begun';
    throw new VmigError(reply.status === 'cancelled' ? 'MIGRATION_ABORTED' : 'MIGRATION_FAILED', `the migration stream of ${migration.name} ${reason}`);
  }

  return {
    async 'migrate.begin'(params: unknown) {
      const { name, migrationId, controller, peer } = beginParams.parse(params);
      assertDomainName(name);
      const instance = await instances.find(name);
      if (!instance) {
        const defined = await readDefinition(context, name);
        throw new VmigError(defined ? 'DOMAIN_NOT_RUNNING' : 'DOMAIN_NOT_FOUND', defined ? `domain ${name} is not running on ${context.host}` : `domain ${name} does not exist on ${context.host}`);
      }
      if (instance.incomingMigrationId) throw new VmigError('DOMAIN_NOT_RUNNING', `domain ${name} on ${context.host} is itself still arriving from a migration`);
      const { qemuStatus } = await instances.status(instance);
      if (qemuStatus !== 'running' && qemuStatus !== 'paused') {
        throw new VmigError('DOMAIN_NOT_RUNNING', `domain ${name} on ${context.host} is ${qemuStatus}, not running or paused`);
      }
      await context.locks.acquire(name, { migrationId, controller, startedAt: new Date().toISOString() });
      const migration: SourceMigration = { role: 'source', migrationId, name, peer, phase: 'begun', wasRunning: qemuStatus === 'running', cleanups: [] };
      registry.add(migration);
      await context.journal.record({ migrationId, role: 'source', domain: name, peer, phase: 'begun' });
      const persistent = (await readDefinition(context, name)) !== undefined;
      let disks: SourceDisk[] = [];
      try {
        // Sizes, allocation and backing chains, for the controller to plan a storage copy.
        if (instance.definition.disks.length > 0) disks = await describeDisks(await agentQmp(migration), instance.definition.disks);
      } catch (error) {
        await end(migration, 'cancelled');
        throw error;
      }
      return { definition: instance.definition, accel: instance.accel, state: qemuStatus, persistent, disks };
    },

    async 'migrate.perform'(params: unknown, { signal }: { signal: AbortSignal }): Promise<MigrationOutcome> {
      const options = performParams.parse(params);
      const migration = sourceMigration(options.migrationId);
      try {
        return await performStream(options, migration, signal);
      } catch (error) {
        // Before completion the destination's images are abandoned: stop the mirrors, the source keeps its disks.
        if (migration.phase !== 'completed') await cancelMirrors(migration);
        throw error;
      }
    },

    /** Opens the outgoing tunnel before Perform; ssh needs it early, for the controller's relay to listen on its sockets. */
    async 'migrate.tunnel'(params: unknown) {
      const { migrationId, cookie } = tunnelParams.parse(params);
      const migration = sourceMigration(migrationId);
      await outgoingUri(migration, cookie);
      return { sockets: migration.tunnel?.sockets ?? [] };
    },

    /** For `auto`: can this host open a TCP connection to the destination's TLS endpoint? */
    async 'migrate.probe'(params: unknown) {
      const { migrationId, endpoint, timeoutMs } = probeParams.parse(params);
      sourceMigration(migrationId);
      return probeTcp(endpoint, timeoutMs);
    },

    /** Stops a stream in flight and leaves the guest running on the source; also ends the job. */
    async 'migrate.cancel'(params: unknown) {
      const { migrationId } = idParams.parse(params);
      const migration = sourceMigration(migrationId);
      if (migration.phase === 'completed') {
        throw new VmigError('NEEDS_RECOVERY', `migration ${migrationId} of ${migration.name} already completed its stream; it cannot be cancelled, only resumed or confirmed`);
      }
      const qmp = await agentQmp(migration);
      await qmp.execute('migrate_cancel');
      await cancelMirrors(migration);
      for (let waited = 0; waited < 100; waited++) {
        const status = outgoingStatus(await qmp.execute<QueryMigrate>('query-migrate'));
        if (status === 'completed') {
          migration.phase = 'completed';
          throw new VmigError('NEEDS_RECOVERY', `migration ${migrationId} of ${migration.name} completed before it could be cancelled`);
        }
        if (TERMINAL_STATUSES.has(status) || status === 'none') break;
        await sleep(100);
      }
      await restoreSource(migration);
      await end(migration, 'cancelled');
      return { name: migration.name, state: 'running' };
    },

    /** The destination did not take over after a completed stream: the source, which holds the same state, runs on. */
    async 'migrate.resume'(params: unknown) {
      const { migrationId } = idParams.parse(params);
      const migration = sourceMigration(migrationId);
      await restoreSource(migration);
      await end(migration, 'resumed');
      return { name: migration.name };
    },

    /** The destination runs the guest: retire the source QEMU for good. */
    async 'migrate.confirm'(params: unknown) {
      const { migrationId, undefineSource } = confirmParams.parse(params);
      const migration = sourceMigration(migrationId);
      if (migration.phase !== 'completed') throw new VmigError('INTERNAL', `migration ${migrationId} cannot be confirmed before its stream completed`);
      migration.qmp?.close();
      migration.qmp = undefined;
      const instance = await instances.find(migration.name);
      if (instance) await instances.stop(instance);
      if (undefineSource) await unlinkIfPresent(context.state.definitionPath(migration.name));
      await end(migration, 'confirmed');
      return { name: migration.name };
    },

    /** Releases the lock of a migration that never started its stream (Prepare failed). */
    async 'migrate.release'(params: unknown) {
      const { migrationId } = idParams.parse(params);
      const migration = sourceMigration(migrationId);
      if (migration.phase !== 'begun') throw new VmigError('INTERNAL', `migration ${migrationId} is ${migration.phase}; it cannot simply be released`);
      await end(migration, 'cancelled');
      return {};
    },
  };
}

/** The controller vanished: cancel what has not completed; hold what has, for `vmig recover`. */
export async function abandonSource(context: AgentContext, registry: MigrationRegistry, migration: SourceMigration): Promise<void> {
  const handlers = sourceHandlers(context, registry);
  if (migration.phase === 'completed') {
    context.log(`controller gone after migration ${migration.migrationId} completed: holding ${migration.name} paused for vmig recover`);
    await context.journal.record({ migrationId: migration.migrationId, role: 'source', domain: migration.name, peer: migration.peer, phase: 'held' });
    migration.qmp?.close();
    return;
  }
  try {
    await handlers['migrate.cancel']({ migrationId: migration.migrationId });
    context.log(`controller gone: migration ${migration.migrationId} cancelled, ${migration.name} keeps running here`);
  } catch (error) {
    context.log(`controller gone: cancelling migration ${migration.migrationId} failed: ${(error as Error).message}`);
    if ((migration.phase as SourceMigration['phase']) === 'completed') {
      await context.journal.record({ migrationId: migration.migrationId, role: 'source', domain: migration.name, peer: migration.peer, phase: 'held' });
    }
  }
}
