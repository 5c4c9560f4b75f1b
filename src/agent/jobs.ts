// Job control from any controller: domjobinfo, domjobabort, migrate-setspeed, migrate-setmaxdowntime.
// The migrating agent (another process, maybe another controller's) holds QEMU's agent monitor, so these
// go through the domain's *user* monitor. The lock file says who runs the job; the journal says how far it got.
import { assertDomainName } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { outgoingStatus, toProgress, type QueryMigrate } from '../qemu/migration-stats.js';
import { isMirrorJob, type BlockJob } from '../storage/mirror.js';
import { qmpOnce } from '../qemu/qmp.js';
import { sleep } from '../util/timers.js';
import type { HandlerGroup } from '../protocol/table.js';
import { phaseInfo } from '../protocol/phases.js';
import type { JobInfo } from '../protocol/wire.js';
import type { AgentContext } from './context.js';
import type { Instance } from './instances.js';
import type { LockHolder } from './locks.js';
import { UNLIMITED_BANDWIDTH } from './perform.js';

/** QEMU statuses in which a stream is in flight and migrate_cancel stops it. */
const IN_FLIGHT = new Set(['setup', 'active', 'pre-switchover', 'device', 'postcopy-active', 'wait-unplug']);
/** How long domjobabort waits for a job still in Begin/Prepare to start its stream. */
const ABORT_WAIT_MS = 30_000;

export function jobHandlers(
  context: AgentContext,
): HandlerGroup<'job.info' | 'job.abort' | 'job.setSpeed' | 'job.setMaxDowntime'> {
  const qmp = <T>(instance: Instance, command: string, args?: Record<string, unknown>) =>
    qmpOnce<T>(instance.paths.userQmpSocket, command, args, 5_000);

  async function running(name: string): Promise<Instance> {
    assertDomainName(name);
    const instance = await context.instances.find(name);
    if (!instance) throw new VmigError('DOMAIN_NOT_RUNNING', `domain ${name} is not running on ${context.host}`);
    return instance;
  }

  async function job(name: string): Promise<(LockHolder & { phase: string }) | undefined> {
    const holder = await context.locks.heldBy(name);
    if (!holder) return undefined;
    const entry = await context.journal.read(holder.migrationId);
    const { migrationId, controller, startedAt, agentPid } = holder;
    return { migrationId, controller, startedAt, agentPid, phase: entry?.phase ?? 'begun' };
  }

  async function requireJob(name: string): Promise<{ instance: Instance; holder: LockHolder & { phase: string } }> {
    const instance = await running(name);
    const holder = await job(name);
    if (!holder) throw new VmigError('NO_JOB', `domain ${name} has no migration job on ${context.host}`);
    return { instance, holder };
  }

  return {
    async 'job.info'({ name }): Promise<JobInfo> {
      const instance = await running(name);
      const holder = await job(name);
      const [reply, parameters, jobs] = await Promise.all([
        qmp<QueryMigrate>(instance, 'query-migrate'),
        qmp<{ 'max-bandwidth'?: number; 'downtime-limit'?: number }>(instance, 'query-migrate-parameters'),
        qmp<BlockJob[]>(instance, 'query-block-jobs').catch(() => [] as BlockJob[]),
      ]);
      const disks = jobs
        .filter((entry) => isMirrorJob(entry.device))
        .map((entry) => ({
          target: entry.device.slice('vmig-mirror-'.length),
          copiedBytes: entry.offset,
          totalBytes: entry.len,
          ready: entry.ready,
        }));
      return {
        name,
        active: holder !== undefined,
        ...(holder ? { job: holder } : {}),
        // A guest that arrived by migration reports that one as "completed": not a job of its own.
        ...(outgoingStatus(reply) !== 'none' ? { progress: toProgress(reply) } : {}),
        ...(disks.length > 0 ? { disks } : {}),
        parameters: {
          maxBandwidthBps: parameters['max-bandwidth'] ?? 0,
          downtimeLimitMs: parameters['downtime-limit'] ?? 0,
        },
      };
    },

    /** Cancels the stream; the migrating agent's perform loop sees "cancelled", restores the source and its controller rolls back. */
    async 'job.abort'({ name }) {
      const { instance, holder } = await requireJob(name);
      // A job still in Begin/Prepare has no stream to cancel yet: wait (bounded) until it starts or ends.
      const deadline = Date.now() + ABORT_WAIT_MS;
      for (;;) {
        const current = await job(name);
        if (!current || current.migrationId !== holder.migrationId)
          return { name, migrationId: holder.migrationId, cancelled: false, detail: 'the job ended on its own' };
        const phase = phaseInfo(current.phase);
        // Once the guest is sent it cannot be stopped; a source job that ended (confirmed) releases its lock next.
        if (phase?.sent && !(phase.final && phase.role === 'source')) {
          throw new VmigError(
            'NO_JOB',
            `job ${holder.migrationId} of ${name} has already sent the whole guest and is switching over; it can no longer be cancelled`,
          );
        }
        if (current.phase === 'performing') {
          const { status } = await qmp<QueryMigrate>(instance, 'query-migrate');
          if (status && IN_FLIGHT.has(status)) break;
          // Copied disks go first: while they copy there is no memory stream yet, only the mirrors to stop.
          const mirrors = (await qmp<BlockJob[]>(instance, 'query-block-jobs')).filter((entry) =>
            isMirrorJob(entry.device),
          );
          if (mirrors.length > 0) {
            for (const mirror of mirrors)
              await qmp(instance, 'block-job-cancel', { device: mirror.device, force: true }).catch(() => undefined);
            context.log(`job ${holder.migrationId} of ${name}: disk copies cancelled by domjobabort`);
            return { name, migrationId: holder.migrationId, cancelled: true };
          }
        }
        if (Date.now() > deadline)
          throw new VmigError(
            'NO_JOB',
            `job ${holder.migrationId} of ${name} did not start its stream within ${ABORT_WAIT_MS / 1000} s; nothing was cancelled`,
          );
        await sleep(200);
      }
      await qmp(instance, 'migrate_cancel');
      context.log(`job ${holder.migrationId} of ${name} cancelled by domjobabort`);
      return { name, migrationId: holder.migrationId, cancelled: true };
    },

    async 'job.setSpeed'({ name, bandwidthMiBs }) {
      const { instance, holder } = await requireJob(name);
      await qmp(instance, 'migrate-set-parameters', {
        'max-bandwidth': bandwidthMiBs > 0 ? bandwidthMiBs * 1024 * 1024 : UNLIMITED_BANDWIDTH,
      });
      return { name, migrationId: holder.migrationId, bandwidthMiBs };
    },

    async 'job.setMaxDowntime'({ name, maxDowntimeMs }) {
      const { instance, holder } = await requireJob(name);
      await qmp(instance, 'migrate-set-parameters', { 'downtime-limit': maxDowntimeMs });
      return { name, migrationId: holder.migrationId, maxDowntimeMs };
    },
  };
}
