// Agent handlers for `vmig recover`: report what this host holds of a guest (QEMU state, journal, lock),
// and apply one decided step. The decision itself is pure and lives in src/controller/recovery.ts.
import { assertDomainName } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import type { QueryMigrate } from '../qemu/migration-stats.js';
import { QmpClient, qmpOnce } from '../qemu/qmp.js';
import { deleteImages } from '../storage/images.js';
import { cancelLeftoverMirrors, isMirrorJob, type BlockJob } from '../storage/mirror.js';
import type { HandlerGroup } from '../protocol/table.js';
import type { HostView } from '../protocol/wire.js';
import type { AgentContext } from './context.js';
import { ownedByOtherLiveAgent } from './instances.js';
import { journalPhase } from './migration-state.js';
import type { JournalEntry } from './journal.js';

/** What this host holds; the journal entry in the agent's own, stricter type. */
type LocalView = HostView & { journal?: JournalEntry };

export function recoverHandlers(context: AgentContext): HandlerGroup<'recover.inspect' | 'recover.apply'> {
  const { instances } = context;

  async function inspect(name: string): Promise<LocalView> {
    const view: LocalView = { host: context.host };
    const instance = await instances.find(name);
    if (instance) {
      const status = await qmpOnce<{ status: string }>(
        instance.paths.userQmpSocket,
        'query-status',
        undefined,
        5_000,
      ).catch(() => ({ status: 'unreachable' }));
      const migration = await qmpOnce<QueryMigrate>(
        instance.paths.userQmpSocket,
        'query-migrate',
        undefined,
        5_000,
      ).catch(() => ({ status: 'unknown' }) as QueryMigrate);
      view.instance = {
        qemuStatus: status.status,
        ...(instance.incomingMigrationId ? { incomingMigrationId: instance.incomingMigrationId } : {}),
        ownerAlive: ownedByOtherLiveAgent(instance),
        migrationStatus: migration.status ?? 'none',
      };
      const jobs = await qmpOnce<BlockJob[]>(instance.paths.userQmpSocket, 'query-block-jobs', undefined, 5_000).catch(
        () => [] as BlockJob[],
      );
      const diskJobs = jobs.filter((job) => isMirrorJob(job.device)).map((job) => job.device);
      if (diskJobs.length > 0) view.instance.diskJobs = diskJobs;
      if (instance.incomingMigrationId && instance.createdImages?.length)
        view.instance.createdImages = instance.createdImages;
    }
    const entries = (await context.journal.all())
      .filter((entry) => entry.domain === name)
      .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
    const latest = entries.at(-1);
    if (latest) view.journal = latest;
    const lock = await context.locks.inspect(name);
    if (lock)
      view.lock = {
        migrationId: lock.holder.migrationId,
        controller: lock.holder.controller,
        startedAt: lock.holder.startedAt,
        alive: lock.alive && lock.holder.agentPid !== process.pid,
      };
    return view;
  }

  return {
    async 'recover.inspect'({ name }): Promise<HostView> {
      assertDomainName(name);
      return inspect(name);
    },

    async 'recover.apply'({ name, action }) {
      assertDomainName(name);
      const lock = await context.locks.inspect(name);
      if (lock?.alive && lock.holder.agentPid !== process.pid) {
        throw new VmigError(
          'LOCKED',
          `migration ${lock.holder.migrationId} of ${name} on ${context.host} is still in progress (controller ${lock.holder.controller}); let it finish or abort it first`,
        );
      }
      const instance = await instances.find(name);
      if (action === 'clear-lock') {
        if (!(await context.locks.clearStale(name)))
          throw new VmigError(
            'LOCKED',
            `the migration lock of ${name} on ${context.host} was just taken by a running migration`,
          );
        return { done: true };
      }
      if (!instance) throw new VmigError('DOMAIN_NOT_RUNNING', `no QEMU of ${name} on ${context.host}`);
      if (instance.incomingMigrationId && ownedByOtherLiveAgent(instance)) {
        throw new VmigError('LOCKED', `the incoming ${name} on ${context.host} still belongs to a running migration`);
      }
      if (action === 'cancel-disk-jobs') {
        const client = await QmpClient.connect(instance.paths.userQmpSocket);
        try {
          await cancelLeftoverMirrors(client);
        } finally {
          client.close();
        }
        return { done: true };
      }
      if (action === 'retire') {
        await instances.stop(instance);
        // An incoming guest that never took over: the images created for it go with it (never a pre-existing file).
        if (instance.incomingMigrationId) await deleteImages(instance.createdImages ?? []);
      } else {
        const status = await qmpOnce<{ status: string }>(instance.paths.userQmpSocket, 'query-status');
        if (status.status !== 'running') await qmpOnce(instance.paths.userQmpSocket, 'cont');
        if (instance.incomingMigrationId) await instances.update(instance, { incomingMigrationId: undefined });
      }
      await context.locks.clearStale(name);
      const { journal } = await inspect(name);
      if (journal) await journalPhase(context, journal, action === 'retire' ? 'confirmed' : 'resumed', 'vmig recover');
      return { done: true };
    },
  };
}
