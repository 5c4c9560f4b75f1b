// Destination-side phases: Prepare (start the receiving QEMU paused, open the endpoint, mint the cookie),
// Finish (check the complete state arrived, resume), and Abort (remove the receiving QEMU).
import { parseDomain } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { QmpClient } from '../qemu/qmp.js';
import { qmpEventTime } from '../qemu/event-time.js';
import { pausePostcopy } from '../qemu/postcopy.js';
import type { QueryMigrate } from '../qemu/migration-stats.js';
import {
  afterPostcopyResume,
  beforeResume,
  type IncomingState,
  type IncomingVerdict,
} from '../qemu/incoming-policy.js';
import { qemuSettings } from '../options/qemu.js';
import { describeCookie } from '../transports/cookie.js';
import type { HandlerGroup } from '../protocol/table.js';
import { closeEnds, openIncoming } from '../transports/incoming.js';
import { DEFAULT_PORT_RANGE } from '../transports/ports.js';
import type { AgentContext } from './context.js';
import { writeDefinition } from './domains.js';
import { loadHostConfig } from './host-config.js';
import { checkArrival } from './prepare-checks.js';
import { runCleanups, transition, type DestinationMigration, type MigrationRegistry } from './migration-state.js';
import { destinationDisks } from '../storage/plan.js';
import { createImages, checkImages, deleteImages } from '../storage/images.js';
import { nbdSocketPath, stopExports } from '../storage/exports.js';
import { diskStream } from '../transports/streams.js';
import { exportDisks } from '../storage/incoming.js';
import type { Instance } from './instances.js';
import type { ParsedParams } from '../protocol/methods.js';
import type { DiskCopy } from '../storage/plan.js';

export type DestinationMethod =
  | 'migrate.prepare'
  | 'migrate.finish'
  | 'migrate.postcopy-pause'
  | 'migrate.select-transport'
  | 'migrate.abort';

/**
 * The receiving QEMU made ready: the destination's capabilities and parameters set, the incoming endpoint and
 * its streams open (disks' NBD streams too over tls and ssh), the disks exported. The caller removes the QEMU
 * on failure.
 */
async function openReceiving(
  context: AgentContext,
  qmp: QmpClient,
  instance: Instance,
  options: Pick<ParsedParams<'migrate.prepare'>, 'transport' | 'migrationId' | 'convergence'> & {
    copies: DiskCopy[];
    listenHost: string;
    portRange: [number, number];
  },
): Promise<Awaited<ReturnType<typeof openIncoming>> & { storage?: Awaited<ReturnType<typeof exportDisks>> }> {
  const { copies, listenHost, portRange } = options;
  const settings = qemuSettings('destination', options.convergence);
  await qmp.execute('migrate-set-capabilities', { capabilities: settings.capabilities });
  if (Object.keys(settings.parameters).length > 0) await qmp.execute('migrate-set-parameters', settings.parameters);
  const { cookie, ends } = await openIncoming({
    transport: options.transport,
    migrationId: options.migrationId,
    qmp,
    instanceDir: instance.paths.dir,
    listenHost,
    portRange,
    log: context.log,
    ...(options.convergence.parallel ? { parallel: options.convergence.parallel } : {}),
    ...(copies.length > 0 && options.transport !== 'direct'
      ? {
          streams: copies.map((copy) => ({
            id: diskStream(copy.target),
            socket: nbdSocketPath(instance.paths.dir),
          })),
        }
      : {}),
  });
  if (copies.length === 0) return { cookie, ends };
  try {
    const storage = await exportDisks({
      qmp,
      copies,
      transport: options.transport,
      instanceDir: instance.paths.dir,
      listenHost,
      portRange,
    });
    return { cookie, ends, storage };
  } catch (error) {
    // No migration holds the listeners yet: nothing else would close them.
    await closeEnds(ends);
    throw error;
  }
}

export function destinationHandlers(
  context: AgentContext,
  registry: MigrationRegistry,
): HandlerGroup<DestinationMethod> {
  const { instances } = context;

  function destinationMigration(migrationId: string): DestinationMigration {
    const migration = registry.get(migrationId);
    if (migration?.role !== 'destination')
      throw new VmigError('NO_JOB', `no incoming migration ${migrationId} on ${context.host}`);
    return migration;
  }

  return {
    async 'migrate.prepare'(options) {
      const received = parseDomain(options.definition, 'definition received from the source');
      const copies = options.storage?.copies ?? [];
      // Copied disks run here from their destination paths (the same, or mapped by --storage-map).
      const definition = { ...received, disks: destinationDisks(received.disks, copies) };
      await context.state.ensure();
      const config = await loadHostConfig();
      await checkArrival(context, definition, config, {
        forceDefinition: options.forceDefinition,
        copied: copies.map((copy) => copy.destinationPath),
      });
      const listenHost = options.listenAddress ?? config.migration_address ?? context.arrivalAddress ?? '127.0.0.1';
      const portRange = options.portRange ?? config.migration_ports ?? DEFAULT_PORT_RANGE;
      // Every check before the first file is created: a refusal leaves this host as it was.
      const images =
        copies.length > 0
          ? await createImages(copies, (await checkImages(copies, context.host)).reuse, context.host)
          : { created: [], reused: [] };
      let instance: Instance;
      try {
        instance = await instances.start(
          { ...definition, accel: options.accel },
          { incomingMigrationId: options.migrationId, createdImages: images.created },
        );
      } catch (error) {
        await deleteImages(images.created);
        throw error;
      }
      let qmp: QmpClient | undefined;
      try {
        qmp = await QmpClient.connect(instance.paths.qmpSocket);
        const { cookie, ends, storage } = await openReceiving(context, qmp, instance, {
          ...options,
          copies,
          listenHost,
          portRange,
        });
        const cleanups: DestinationMigration['cleanups'] = [() => closeEnds(ends)];
        const migration: DestinationMigration = {
          role: 'destination',
          migrationId: options.migrationId,
          name: definition.name,
          peer: options.peer,
          phase: 'prepared',
          cookie,
          instance,
          qmp,
          incoming: ends,
          cleanups,
          createdImages: images.created,
          exportedDisks: copies.map((copy) => copy.target),
        };
        registry.add(migration);
        await transition(
          context,
          migration,
          'prepared',
          images.created.length > 0 ? `created ${images.created.join(', ')}` : undefined,
        );
        context.log(
          `prepared incoming ${definition.name} for ${describeCookie(cookie)}${copies.length > 0 ? `, exporting disks ${copies.map((copy) => copy.target).join(', ')}` : ''}`,
        );
        return { cookie, ...(storage ? { storage: storage.exposed } : {}) };
      } catch (error) {
        qmp?.close();
        await instances.stop(instance);
        await deleteImages(images.created);
        if (error instanceof VmigError) throw error;
        throw new VmigError(
          'PREPARE_FAILED',
          `preparing ${definition.name} on ${context.host} failed: ${(error as Error).message}`,
        );
      }
    },

    async 'migrate.finish'(options) {
      const migration = destinationMigration(options.migrationId);
      const { qmp } = migration;
      const policy = {
        where: `${migration.name} on ${context.host}`,
        postcopy: options.postcopy,
        timeoutMs: options.timeoutMs,
      };
      const deadline = Date.now() + options.timeoutMs;
      const incoming = async (): Promise<IncomingState> => {
        if (qmp.isClosed)
          throw new VmigError(
            'MIGRATION_FAILED',
            `the receiving QEMU of ${policy.where} exited before it held the complete state`,
          );
        const reply = await qmp.execute<QueryMigrate>('query-migrate');
        const status = await qmp.execute<{ status: string }>('query-status');
        return {
          migration: reply.status ?? 'none',
          run: status.status,
          ...(reply['error-desc'] !== undefined ? { errorDesc: reply['error-desc'] } : {}),
        };
      };
      const settle = (verdict: IncomingVerdict): boolean => {
        if (verdict.kind === 'fail') throw new VmigError(verdict.code, verdict.message);
        return verdict.kind === 'ready';
      };
      // The source reported completion (or post-copy); the destination may take a moment more to load the device state.
      for (;;) {
        // Woken by QEMU's own MIGRATION event (sent once the state is loaded): every ms here is guest downtime.
        // Listening before the query, so that an event sent during it is not missed. The short timeout covers
        // the post-copy run command, which changes the run state without an event.
        const wake = qmp.waitForEvent((event) => event.event === 'MIGRATION', 50).catch(() => undefined);
        if (settle(beforeResume(await incoming(), policy, Date.now() > deadline))) break;
        await wake;
      }
      // The source's mirrors completed before its switch-over: nothing may write into the guest's disks from outside now.
      await stopExports(qmp, migration.exportedDisks ?? []);
      let resumedAt: number | undefined;
      if (!options.suspend) {
        // QEMU sends RESUME before cont's reply; its timestamp ends the guest-visible downtime.
        const resumed = qmp.waitForEvent((event) => event.event === 'RESUME', 5_000).catch(() => undefined);
        await qmp.execute('cont');
        const event = await resumed;
        resumedAt = event ? qmpEventTime(event) : undefined;
      }
      if (options.postcopy) {
        // The guest runs here now and fetches missing pages from the source: wait for the last one.
        while (!settle(afterPostcopyResume(await incoming(), policy))) {
          await qmp.waitForEvent((event) => event.event === 'MIGRATION', 500).catch(() => undefined);
        }
      }
      migration.instance = await instances.update(migration.instance, {
        incomingMigrationId: undefined,
        createdImages: undefined,
      });
      await transition(context, migration, 'finished');
      if (options.persistent) await writeDefinition(context, migration.instance.definition);
      await runCleanups(migration);
      qmp.close();
      registry.delete(migration.migrationId);
      return {
        name: migration.name,
        state: options.suspend ? ('paused' as const) : ('running' as const),
        ...(resumedAt !== undefined ? { resumedAt } : {}),
      };
    },

    /** The source lost the post-copy stream: pause this side too, so that `vmig recover` can resume it. */
    async 'migrate.postcopy-pause'({ migrationId }) {
      const migration = destinationMigration(migrationId);
      if (!migration.qmp.isClosed) await pausePostcopy(migration.qmp);
      return {};
    },

    /** `auto`: the controller picked a transport; the other listener closes before any stream starts. */
    async 'migrate.select-transport'({ migrationId, transport }) {
      const migration = destinationMigration(migrationId);
      if (migration.cookie.transport !== 'auto' && migration.cookie.transport !== transport) {
        throw new VmigError(
          'INTERNAL',
          `migration ${migrationId} was prepared for ${migration.cookie.transport}, not ${transport}`,
        );
      }
      if (!migration.incoming?.[transport])
        throw new VmigError('INTERNAL', `migration ${migrationId} has no ${transport} listener on ${context.host}`);
      await closeEnds(migration.incoming, transport);
      migration.cookie.transport = transport;
      return {};
    },

    /** Removes the receiving QEMU: the guest stays (or goes back) on the source. */
    async 'migrate.abort'({ migrationId }) {
      const migration = registry.get(migrationId);
      if (migration?.role !== 'destination') return { removed: false };
      await abortDestination(context, registry, migration);
      return { removed: true };
    },
  };
}

export async function abortDestination(
  context: AgentContext,
  registry: MigrationRegistry,
  migration: DestinationMigration,
): Promise<void> {
  await runCleanups(migration);
  migration.qmp.close();
  const instance = await context.instances.find(migration.name);
  if (instance?.incomingMigrationId === migration.migrationId) await context.instances.stop(instance);
  // Only what this migration created, and only once no QEMU of ours holds it open.
  if (!instance || instance.incomingMigrationId === migration.migrationId)
    await deleteImages(migration.createdImages ?? []);
  await transition(context, migration, 'aborted');
  registry.delete(migration.migrationId);
}

/** The controller vanished: an incomplete incoming guest is removed; a complete one is held paused for `vmig recover`. */
export async function abandonDestination(
  context: AgentContext,
  registry: MigrationRegistry,
  migration: DestinationMigration,
): Promise<void> {
  let complete = false;
  try {
    const reply = await migration.qmp.execute<QueryMigrate>('query-migrate');
    // In post-copy the destination already holds the authoritative guest, complete or not.
    complete = reply.status === 'completed' || (reply.status ?? '').startsWith('postcopy');
  } catch {
    complete = false;
  }
  if (complete) {
    context.log(
      `controller gone after the stream of ${migration.migrationId} completed: holding ${migration.name} paused for vmig recover`,
    );
    await transition(context, migration, 'held', 'controller gone');
    migration.qmp.close();
    return;
  }
  context.log(
    `controller gone before migration ${migration.migrationId} completed: removing the incoming ${migration.name}`,
  );
  await abortDestination(context, registry, migration);
}
