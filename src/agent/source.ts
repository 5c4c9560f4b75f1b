// Source-side phases: Begin (check, export, lock), Perform (stream the guest out), Confirm (retire the old QEMU),
// and the ways back: Cancel (before completion) and Resume (the destination could not take over).
import { z } from 'zod';
import { assertDomainName } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { TERMINAL_STATUSES, toOutcome, toProgress, type MigrationOutcome, type QueryMigrate } from '../qemu/migration-stats.js';
import { QmpClient } from '../qemu/qmp.js';
import { cookieSchema } from '../transports/cookie.js';
import { directOutgoingUri } from '../transports/direct.js';
import { unlinkIfPresent } from '../util/fs.js';
import { sleep } from '../util/fs.js';
import type { AgentContext } from './context.js';
import { readDefinition } from './domains.js';
import type { Instance } from './instances.js';
import { runCleanups, type MigrationRegistry, type SourceMigration } from './migration-state.js';

const beginParams = z.object({ name: z.string(), migrationId: z.string(), controller: z.string(), peer: z.string() });
const performParams = z.object({
  migrationId: z.string(),
  cookie: cookieSchema,
  /** MiB/s; 0 means no cap beyond the link. */
  bandwidthMiBs: z.number().int().min(0).default(0),
  maxDowntimeMs: z.number().int().min(1).optional(),
  progressIntervalMs: z.number().int().min(50).max(10_000).default(500),
});
const idParams = z.object({ migrationId: z.string() });
const confirmParams = z.object({ migrationId: z.string(), undefineSource: z.boolean().default(false) });

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

  async function end(migration: SourceMigration, phase: 'cancelled' | 'confirmed' | 'resumed'): Promise<void> {
    migration.phase = 'done';
    await runCleanups(migration);
    migration.qmp?.close();
    await context.locks.release(migration.name, migration.migrationId);
    await context.journal.record({ migrationId: migration.migrationId, role: 'source', domain: migration.name, peer: migration.peer, phase });
    registry.delete(migration.migrationId);
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
      await context.locks.acquire(name, { migrationId, controller, startedAt: new Date().toISOString(), agentPid: process.pid });
      const migration: SourceMigration = { role: 'source', migrationId, name, peer, phase: 'begun', wasRunning: qemuStatus === 'running', cleanups: [] };
      registry.add(migration);
      await context.journal.record({ migrationId, role: 'source', domain: name, peer, phase: 'begun' });
      const persistent = (await readDefinition(context, name)) !== undefined;
      return { definition: instance.definition, accel: instance.accel, state: qemuStatus, persistent };
    },

    async 'migrate.perform'(params: unknown, { signal }: { signal: AbortSignal }): Promise<MigrationOutcome> {
      const options = performParams.parse(params);
      const migration = sourceMigration(options.migrationId);
      if (options.cookie.expiresAt < Date.now()) throw new VmigError('COOKIE_REJECTED', `the destination's cookie for migration ${options.migrationId} has expired`);
      const qmp = await agentQmp(migration);
      migration.phase = 'performing';
      await context.journal.record({ migrationId: migration.migrationId, role: 'source', domain: migration.name, peer: migration.peer, phase: 'performing' });
      // validate-uuid: the destination refuses a stream whose guest is not the one it was prepared for.
      await qmp.execute('migrate-set-capabilities', {
        capabilities: [
          { capability: 'validate-uuid', state: true },
          { capability: 'events', state: true },
        ],
      });
      await qmp.execute('migrate-set-parameters', {
        'max-bandwidth': options.bandwidthMiBs > 0 ? options.bandwidthMiBs * 1024 * 1024 : UNLIMITED_BANDWIDTH,
        ...(options.maxDowntimeMs ? { 'downtime-limit': options.maxDowntimeMs } : {}),
      });
      const uri = directOutgoingUri(options.cookie);
      await qmp.execute('migrate', { uri });
      let reply: QueryMigrate;
      for (;;) {
        reply = await qmp.execute<QueryMigrate>('query-migrate');
        if (TERMINAL_STATUSES.has(reply.status ?? '')) break;
        context.emit('migration.progress', { migrationId: migration.migrationId, ...toProgress(reply) });
        // The controller is gone: abandonSource() now decides; this loop just stops watching.
        if (signal.aborted) throw new VmigError('MIGRATION_ABORTED', 'the controller disconnected');
        await sleep(options.progressIntervalMs);
      }
      if (reply.status === 'completed') {
        migration.phase = 'completed';
        await context.journal.record({ migrationId: migration.migrationId, role: 'source', domain: migration.name, peer: migration.peer, phase: 'completed' });
        return toOutcome(reply);
      }
      const reason = reply.status === 'cancelled' ? 'was cancelled' : `failed: ${reply['error-desc'] ?? 'QEMU gave no reason'}`;
      await restoreSource(migration);
      migration.phase = 'begun';
      throw new VmigError(reply.status === 'cancelled' ? 'MIGRATION_ABORTED' : 'MIGRATION_FAILED', `the migration stream of ${migration.name} ${reason}`);
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
      for (let waited = 0; waited < 100; waited++) {
        const reply = await qmp.execute<QueryMigrate>('query-migrate');
        if (reply.status === 'completed') {
          migration.phase = 'completed';
          throw new VmigError('NEEDS_RECOVERY', `migration ${migrationId} of ${migration.name} completed before it could be cancelled`);
        }
        if (!reply.status || TERMINAL_STATUSES.has(reply.status) || reply.status === 'none') break;
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
