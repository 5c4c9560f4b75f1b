import { VmigError } from '../errors.js';
import { TERMINAL_STATUSES, outgoingStatus, type QueryMigrate } from '../qemu/migration-stats.js';
import { QmpClient } from '../qemu/qmp.js';
import type { Cookie } from '../transports/cookie.js';
import { directOutgoingUri } from '../transports/direct.js';
import { openOutgoing } from '../transports/outgoing.js';
import { probeTcp } from '../transports/probe.js';
import type { HandlerGroup } from '../protocol/table.js';
import { unlinkIfPresent } from '../util/fs.js';
import { sleep } from '../util/timers.js';
import { migratableInstance } from './begin-checks.js';
import type { AgentContext } from './context.js';
import { loadHostConfig } from './host-config.js';
import { readDefinition } from './domains.js';
import type { Instance } from './instances.js';
import {
  pastSwitchover,
  runCleanups,
  transition,
  type MigrationRegistry,
  type SourceMigration,
} from './migration-state.js';
import { cancelMirrors, perform } from './perform.js';
import { describeDisks } from '../storage/mirror.js';
import type { SourceDisk } from '../storage/plan.js';

/** ssh p2p: where the source host's own ssh connects (its ssh config resolves the name). */
type P2pTarget = { host: string; user?: string; port?: number };

export type SourceMethod =
  | 'migrate.begin'
  | 'migrate.perform'
  | 'migrate.tunnel'
  | 'migrate.probe'
  | 'migrate.cancel'
  | 'migrate.resume'
  | 'migrate.confirm'
  | 'migrate.release';

export function sourceHandlers(context: AgentContext, registry: MigrationRegistry): HandlerGroup<SourceMethod> {
  const { instances } = context;

  function sourceMigration(migrationId: string): SourceMigration {
    const migration = registry.get(migrationId);
    if (migration?.role !== 'source') throw new VmigError('NO_JOB', `no migration ${migrationId} on ${context.host}`);
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
  async function outgoingUri(migration: SourceMigration, cookie: Cookie, p2p?: P2pTarget): Promise<string> {
    if (cookie.migrationId !== migration.migrationId)
      throw new VmigError('COOKIE_REJECTED', `the cookie belongs to another migration than ${migration.migrationId}`);
    if (cookie.transport === 'direct') return directOutgoingUri(cookie);
    if (migration.tunnel) return migration.tunnel.uri;
    const instance = await liveInstance(migration);
    const sshConfig = p2p ? (await loadHostConfig()).p2p_ssh_config : undefined;
    const tunnel = await openOutgoing(
      cookie,
      instance.paths.dir,
      context.log,
      p2p ? { target: p2p, sourceLabel: context.host, ...(sshConfig ? { sshConfig } : {}) } : undefined,
    );
    migration.cleanups.push(() => tunnel.end.close());
    migration.tunnel = {
      transport: tunnel.transport,
      uri: tunnel.uri,
      sockets: tunnel.sockets,
      failure: tunnel.failure,
    };
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
      const { instance, qemuStatus } = await migratableInstance(context, name);
      await context.locks.acquire(name, { migrationId, controller, startedAt: new Date().toISOString() });
      const migration: SourceMigration = {
        role: 'source',
        migrationId,
        name,
        peer,
        phase: 'begun',
        wasRunning: qemuStatus === 'running',
        cleanups: [],
      };
      registry.add(migration);
      await transition(context, migration, 'begun');
      const persistent = (await readDefinition(context, name)) !== undefined;
      let disks: SourceDisk[] = [];
      try {
        // Sizes, allocation and backing chains, for the controller to plan a storage copy.
        if (instance.definition.disks.length > 0)
          disks = await describeDisks(await agentQmp(migration), instance.definition.disks);
      } catch (error) {
        await end(migration, 'cancelled');
        throw error;
      }
      return { definition: instance.definition, accel: instance.accel, state: qemuStatus, persistent, disks };
    },

    async 'migrate.perform'(options, { signal }) {
      const migration = sourceMigration(options.migrationId);
      if (options.cookie.expiresAt < Date.now())
        throw new VmigError(
          'COOKIE_REJECTED',
          `the destination's cookie for migration ${options.migrationId} has expired`,
        );
      const qmp = await agentQmp(migration);
      try {
        return await perform(qmp, migration, options, signal, { context, restoreSource, outgoingUri });
      } catch (error) {
        // Before completion the destination's images are abandoned: stop the mirrors, the source keeps its disks.
        if (migration.phase !== 'completed') await cancelMirrors(migration, context);
        throw error;
      }
    },

    /** Opens the outgoing tunnel before Perform; ssh needs it early, for the controller's relay to listen on its sockets. */
    async 'migrate.tunnel'({ migrationId, cookie, p2p }) {
      const migration = sourceMigration(migrationId);
      await outgoingUri(migration, cookie, p2p);
      // p2p: this host relays its own streams; the controller has nothing to listen on.
      return { sockets: p2p ? [] : (migration.tunnel?.sockets ?? []) };
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
        throw new VmigError(
          'NEEDS_RECOVERY',
          `migration ${migrationId} of ${migration.name} already completed its stream; it cannot be cancelled, only resumed or confirmed`,
        );
      }
      const qmp = await agentQmp(migration);
      await qmp.execute('migrate_cancel');
      await cancelMirrors(migration, context);
      for (let waited = 0; waited < 100; waited++) {
        const status = outgoingStatus(await qmp.execute<QueryMigrate>('query-migrate'));
        if (status === 'completed') {
          await transition(context, migration, 'completed', 'completed before it could be cancelled');
          throw new VmigError(
            'NEEDS_RECOVERY',
            `migration ${migrationId} of ${migration.name} completed before it could be cancelled`,
          );
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
      if (migration.phase !== 'completed')
        throw new VmigError('INTERNAL', `migration ${migrationId} cannot be confirmed before its stream completed`);
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
      if (migration.phase !== 'begun')
        throw new VmigError('INTERNAL', `migration ${migrationId} is ${migration.phase}; it cannot simply be released`);
      await end(migration, 'cancelled');
      return {};
    },
  };
}

/** The controller vanished: cancel what has not completed; hold what has, for `vmig recover`. */
export async function abandonSource(
  context: AgentContext,
  registry: MigrationRegistry,
  migration: SourceMigration,
): Promise<void> {
  const handlers = sourceHandlers(context, registry);
  if (pastSwitchover(migration)) {
    context.log(
      `controller gone after migration ${migration.migrationId} completed: holding ${migration.name} paused for vmig recover`,
    );
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
