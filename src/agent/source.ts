// Source-side phases: Begin (check, export, lock), Perform (stream the guest out), Confirm (retire the old QEMU),
// and the ways back: Cancel (before completion) and Resume (the destination could not take over).
import { assertDomainName } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { TERMINAL_STATUSES, outgoingStatus, toOutcome, toProgress, type QueryMigrate } from '../qemu/migration-stats.js';
import { QmpClient } from '../qemu/qmp.js';
import type { Cookie } from '../transports/cookie.js';
import { directOutgoingUri } from '../transports/direct.js';
import { openOutgoing } from '../transports/outgoing.js';
import { probeTcp } from '../transports/probe.js';
import type { HandlerGroup } from '../protocol/table.js';
import { unlinkIfPresent } from '../util/fs.js';
import { sleep } from '../util/fs.js';
import type { AgentContext } from './context.js';
import { readDefinition } from './domains.js';
import type { Instance } from './instances.js';
import { PHASES } from '../protocol/phases.js';
import { pastSwitchover, runCleanups, transition, type MigrationRegistry, type SourceMigration } from './migration-state.js';
import { StallDetector } from '../qemu/stall.js';
import { watchEventTime } from '../qemu/event-time.js';
import { pausePostcopy } from '../qemu/postcopy.js';
import { ConvergenceWatch, convergenceHints, downtimeSchedule, postcopyDue, sourceCapabilities, sourceParameters } from '../qemu/convergence.js';

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
const WAKE_STATUSES = new Set([...TERMINAL_STATUSES, 'postcopy-active', 'postcopy-paused']);

/** QEMU takes bytes/s; "no cap" is its maximum. */
const UNLIMITED_BANDWIDTH = Number.MAX_SAFE_INTEGER;

export type SourceMethod = 'migrate.begin' | 'migrate.perform' | 'migrate.tunnel' | 'migrate.probe' | 'migrate.cancel' | 'migrate.resume' | 'migrate.confirm' | 'migrate.release';

export function sourceHandlers(context: AgentContext, registry: MigrationRegistry): HandlerGroup<SourceMethod> {
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

  async function end(migration: SourceMigration, phase: 'cancelled' | 'confirmed' | 'resumed'): Promise<void> {
    await transition(context, migration, phase);
    await runCleanups(migration);
    migration.qmp?.close();
    await context.locks.release(migration.name, migration.migrationId);
    registry.delete(migration.migrationId);
  }

  return {
    async 'migrate.begin'({ name, migrationId, controller, peer }) {
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
      await transition(context, migration, 'begun');
      const persistent = (await readDefinition(context, name)) !== undefined;
      return { definition: instance.definition, accel: instance.accel, state: qemuStatus, persistent };
    },

    async 'migrate.perform'(options, { signal }) {
      const migration = sourceMigration(options.migrationId);
      if (options.cookie.expiresAt < Date.now()) throw new VmigError('COOKIE_REJECTED', `the destination's cookie for migration ${options.migrationId} has expired`);
      const qmp = await agentQmp(migration);
      // The switch-over's start, for the guest-visible downtime in the result (vmig's benchmark reports it).
      const stopWatch = watchEventTime(qmp, 'STOP');
      await transition(context, migration, 'performing');
      const downtimeSteps = options.maxDowntimeMs && options.convergence.downtimeSteps ? downtimeSchedule(options.maxDowntimeMs, options.convergence.downtimeSteps) : undefined;
      // validate-uuid: the destination refuses a stream whose guest is not the one it was prepared for.
      await qmp.execute('migrate-set-capabilities', {
        capabilities: [
          { capability: 'validate-uuid', state: true },
          { capability: 'events', state: true },
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
          if (PHASES[migration.phase].final) throw new VmigError('MIGRATION_ABORTED', `the migration of ${migration.name} was cancelled`);
          throw error;
        }
        const status = outgoingStatus(reply);
        if (TERMINAL_STATUSES.has(status)) break;
        if (status === 'none') {
          // QEMU has not started our stream yet (see outgoingStatus); it must within the stall timeout.
          if (signal.aborted) throw new VmigError('MIGRATION_ABORTED', 'the controller disconnected');
          if (Date.now() - performStarted > options.stallTimeoutMs) {
            await qmp.execute('migrate_cancel').catch(() => undefined);
            await restoreSource(migration);
            await transition(context, migration, 'begun', 'the stream failed; the guest stays here');
            throw new VmigError('MIGRATION_FAILED', `QEMU did not start the migration stream of ${migration.name} within ${Math.round(options.stallTimeoutMs / 1000)} s`);
          }
          await qmp.waitForEvent((event) => event.event === 'MIGRATION', 100).catch(() => undefined);
          continue;
        }
        const progress = toProgress(reply);
        context.emit('migration.progress', { migrationId: migration.migrationId, ...progress });
        if (progress.status.startsWith('postcopy') && !postcopyStarted) {
          postcopyStarted = true;
          // cancel refuses and a vanished controller holds the source (abandonSource): recovery decides, not us.
          migration.postcopy = true;
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
            await transition(context, migration, 'begun', 'the stream failed; the guest stays here');
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
          await transition(context, migration, 'begun', 'the stream failed; the guest stays here');
          throw new VmigError('MIGRATION_FAILED', `the migration stream of ${migration.name} moved no data for ${Math.round(options.stallTimeoutMs / 1000)} s: the destination or the network to it stopped answering`);
        }
        // The controller is gone: abandonSource() now decides; this loop just stops watching.
        if (signal.aborted) throw new VmigError('MIGRATION_ABORTED', 'the controller disconnected');
        await wake;
      }
      if (reply.status === 'completed') {
        await transition(context, migration, 'completed');
        // QEMU announces "completed" a moment before it has computed total-time and downtime (both read 0 until
        // then); woken by the event, we can be inside that moment. Wait (bounded) for the figures.
        for (let attempt = 0; attempt < 50 && !((reply['total-time'] ?? 0) > 0); attempt++) {
          await sleep(10);
          reply = await qmp.execute<QueryMigrate>('query-migrate').catch(() => reply);
        }
        stopWatch.stop();
        return { ...toOutcome(reply), ...(stopWatch.at !== undefined ? { sourceStopAt: stopWatch.at } : {}), ...(parameters ? { parameters } : {}) };
      }
      const tunnelFailure = migration.tunnel?.failure();
      if (postcopyStarted) {
        throw new VmigError('NEEDS_RECOVERY', `the post-copy stream of ${migration.name} failed (${reply['error-desc'] ?? reply.status}); the destination holds the guest, the source stays paused`);
      }
      const reason = reply.status === 'cancelled' ? 'was cancelled' : `failed: ${reply['error-desc'] ?? 'QEMU gave no reason'}${tunnelFailure ? ` (${tunnelFailure})` : ''}`;
      await restoreSource(migration);
      await transition(context, migration, 'begun', 'the stream failed; the guest stays here');
      throw new VmigError(reply.status === 'cancelled' ? 'MIGRATION_ABORTED' : 'MIGRATION_FAILED', `the migration stream of ${migration.name} ${reason}`);
    },

    /** Opens the outgoing tunnel before Perform; ssh needs it early, for the controller's relay to listen on its sockets. */
    async 'migrate.tunnel'({ migrationId, cookie }) {
      const migration = sourceMigration(migrationId);
      await outgoingUri(migration, cookie);
      return { sockets: migration.tunnel?.sockets ?? [] };
    },

    /** For `auto`: can this host open a TCP connection to the destination's TLS endpoint? */
    async 'migrate.probe'({ migrationId, endpoint, timeoutMs }) {
      sourceMigration(migrationId);
      return probeTcp(endpoint, timeoutMs);
    },

    /** Stops a stream in flight and leaves the guest running on the source; also ends the job. */
    async 'migrate.cancel'({ migrationId }) {
      const migration = sourceMigration(migrationId);
      if (pastSwitchover(migration)) {
        throw new VmigError('NEEDS_RECOVERY', `migration ${migrationId} of ${migration.name} already completed its stream; it cannot be cancelled, only resumed or confirmed`);
      }
      const qmp = await agentQmp(migration);
      await qmp.execute('migrate_cancel');
      for (let waited = 0; waited < 100; waited++) {
        const status = outgoingStatus(await qmp.execute<QueryMigrate>('query-migrate'));
        if (status === 'completed') {
          await transition(context, migration, 'completed', 'completed before it could be cancelled');
          throw new VmigError('NEEDS_RECOVERY', `migration ${migrationId} of ${migration.name} completed before it could be cancelled`);
        }
        if (TERMINAL_STATUSES.has(status) || status === 'none') break;
        await sleep(100);
      }
      await restoreSource(migration);
      await end(migration, 'cancelled');
      return { name: migration.name, state: 'running' as const };
    },

    /** The destination did not take over after a completed stream: the source, which holds the same state, runs on. */
    async 'migrate.resume'({ migrationId }) {
      const migration = sourceMigration(migrationId);
      await restoreSource(migration);
      await end(migration, 'resumed');
      return { name: migration.name };
    },

    /** The destination runs the guest: retire the source QEMU for good. */
    async 'migrate.confirm'({ migrationId, undefineSource }) {
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
    async 'migrate.release'({ migrationId }) {
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
  if (pastSwitchover(migration)) {
    context.log(`controller gone after migration ${migration.migrationId} completed: holding ${migration.name} paused for vmig recover`);
    await transition(context, migration, 'held', 'controller gone');
    migration.qmp?.close();
    return;
  }
  try {
    await handlers['migrate.cancel']({ migrationId: migration.migrationId }, { signal: new AbortController().signal });
    context.log(`controller gone: migration ${migration.migrationId} cancelled, ${migration.name} keeps running here`);
  } catch (error) {
    context.log(`controller gone: cancelling migration ${migration.migrationId} failed: ${(error as Error).message}`);
    if (pastSwitchover(migration)) {
      await transition(context, migration, 'held', 'controller gone');
    }
  }
}
