// Running QEMU instances on this host: start, find, query, stop. One instance per domain name.
import { rm } from 'node:fs/promises';
import type { DomainDefinition } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { qemuArgv } from '../qemu/argv.js';
import { launchQemu, resolveAccel, stopQemu } from '../qemu/process.js';
import { qmpOnce } from '../qemu/qmp.js';
import { formatSeconds, QmpTimeoutError } from '../qemu/qmp-protocol.js';
import { ensureDir, readJsonOrUndefined, unlinkIfPresent, writeFileDurable } from '../util/fs.js';
import { identityAlive, pidRunsWith, processIdentity } from '../util/process.js';
import { LockFile } from './lock-file.js';
import type { DomainState } from '../protocol/wire.js';
import type { StateDir } from './state.js';
import { readdir } from 'node:fs/promises';

export interface InstanceRecord {
  definition: DomainDefinition;
  accel: 'kvm' | 'tcg';
  pid: number;
  startedAt: string;
  /** Set while this instance is the paused receiving end of a migration. */
  incomingMigrationId?: string;
  /** The agent process that prepared it: once that is gone, nothing will finish or abort it but `vmig recover`. */
  ownerAgentPid?: number;
  /** That agent's start time and boot (see util/process.ts): a reused pid is not the owner. */
  ownerAgentStartTime?: string;
  ownerBootId?: string;
  /** Storage migration: images created for this incoming guest; removed with it unless it took over. */
  createdImages?: string[];
}

/** Whether another agent process, still running, prepared this instance (and so still owns it). */
export function ownedByOtherLiveAgent(record: InstanceRecord): boolean {
  if (record.ownerAgentPid === undefined || record.ownerAgentPid === process.pid) return false;
  return identityAlive({
    pid: record.ownerAgentPid,
    ...(record.ownerAgentStartTime !== undefined ? { startTime: record.ownerAgentStartTime } : {}),
    ...(record.ownerBootId !== undefined ? { bootId: record.ownerBootId } : {}),
  });
}

export interface Instance extends InstanceRecord {
  paths: ReturnType<StateDir['instancePaths']>;
}

function ownerFields(): Pick<InstanceRecord, 'ownerAgentPid' | 'ownerAgentStartTime' | 'ownerBootId'> {
  const self = processIdentity();
  return {
    ownerAgentPid: self.pid,
    ...(self.startTime !== undefined ? { ownerAgentStartTime: self.startTime } : {}),
    ...(self.bootId !== undefined ? { ownerBootId: self.bootId } : {}),
  };
}

export class Instances {
  constructor(
    private readonly stateDir: StateDir,
    private readonly label: () => string,
    /** The agent's log (shown by the controller with --verbose). */
    private readonly log?: (message: string) => void,
  ) {}

  private get hostLabel(): string {
    return this.label();
  }

  /** The live instance of `name`, or undefined (a stale run directory is cleared on the way). */
  async find(name: string): Promise<Instance | undefined> {
    const paths = this.stateDir.instancePaths(name);
    const record = await readJsonOrUndefined<InstanceRecord>(paths.record);
    if (!record) return undefined;
    if (await pidRunsWith(record.pid, paths.qmpSocket)) return { ...record, paths };
    await rm(paths.dir, { recursive: true, force: true });
    return undefined;
  }

  async all(): Promise<Instance[]> {
    let names: string[];
    try {
      names = await readdir(this.stateDir.runDir);
    } catch {
      return [];
    }
    const found = await Promise.all(names.map((name) => this.find(name).catch(() => undefined)));
    return found.filter((instance): instance is Instance => instance !== undefined);
  }

  /**
   * Starts QEMU for `definition`. Check-then-act under a per-domain mutex (an exclusive create, see
   * lock-file.ts): two concurrent starts of one name, from any agents, cannot both pass the "not running"
   * check and delete each other's run directory, which left a QEMU that no record named.
   */
  async start(
    definition: DomainDefinition,
    options: { incomingMigrationId?: string; paused?: boolean; createdImages?: string[] } = {},
  ): Promise<Instance> {
    const mutex = new LockFile<{ purpose: string; startedAt: string }>(this.stateDir.startLockPath(definition.name));
    const taken = await mutex.acquire({
      purpose: options.incomingMigrationId ? 'prepare' : 'start',
      startedAt: new Date().toISOString(),
    });
    if (!taken.acquired) {
      throw new VmigError(
        'DOMAIN_RUNNING',
        `domain ${definition.name} is already being started on ${this.hostLabel} (${taken.holder.purpose} by vmig agent pid ${taken.holder.agentPid})`,
      );
    }
    try {
      return await this.startLocked(definition, options);
    } finally {
      await mutex.release((holder) => holder.nonce === taken.holder.nonce);
    }
  }

  private async startLocked(
    definition: DomainDefinition,
    options: { incomingMigrationId?: string; paused?: boolean; createdImages?: string[] },
  ): Promise<Instance> {
    if (await this.find(definition.name)) {
      throw new VmigError('DOMAIN_RUNNING', `domain ${definition.name} is already running on ${this.hostLabel}`);
    }
    const sameUuid = (await this.all()).find((instance) => instance.definition.uuid === definition.uuid);
    if (sameUuid) {
      throw new VmigError(
        'DOMAIN_EXISTS',
        `a domain with uuid ${definition.uuid} (${sameUuid.definition.name}) is already running on ${this.hostLabel}`,
      );
    }
    const accel = await resolveAccel(definition.accel, this.hostLabel);
    const paths = this.stateDir.instancePaths(definition.name);
    await rm(paths.dir, { recursive: true, force: true });
    await ensureDir(paths.dir, 0o700);
    const incoming = options.incomingMigrationId !== undefined;
    const argv = qemuArgv(definition, paths, { accel, incoming, paused: options.paused ?? false });
    let pid: number;
    try {
      pid = await launchQemu(argv, paths.pidFile, this.hostLabel, this.log);
    } catch (error) {
      await rm(paths.dir, { recursive: true, force: true });
      throw error;
    }
    const record: InstanceRecord = {
      definition,
      accel,
      pid,
      startedAt: new Date().toISOString(),
      ...(incoming ? { incomingMigrationId: options.incomingMigrationId, ...ownerFields() } : {}),
      ...(options.createdImages?.length ? { createdImages: options.createdImages } : {}),
    };
    await writeFileDurable(paths.record, JSON.stringify(record, null, 2));
    return { ...record, paths };
  }

  async update(instance: Instance, change: Partial<InstanceRecord>): Promise<Instance> {
    const { paths, ...record } = instance;
    const next: InstanceRecord = { ...record, ...change };
    if (change.incomingMigrationId === undefined && 'incomingMigrationId' in change) delete next.incomingMigrationId;
    if (change.createdImages === undefined && 'createdImages' in change) delete next.createdImages;
    await writeFileDurable(paths.record, JSON.stringify(next, null, 2));
    return { ...next, paths };
  }

  async stop(instance: Instance): Promise<void> {
    await stopQemu(instance.pid, instance.paths.qmpSocket, instance.paths.qmpSocket);
    await unlinkIfPresent(instance.paths.record);
    await rm(instance.paths.dir, { recursive: true, force: true });
  }

  /** QEMU's run state, through the operator monitor so a migration holding the agent monitor does not block it. */
  async status(instance: Instance): Promise<{ state: DomainState; qemuStatus: string; problem?: string }> {
    try {
      const status = await qmpOnce<{ status: string; running: boolean }>(
        instance.paths.userQmpSocket,
        'query-status',
        undefined,
        3_000,
      );
      // QEMU's own state wins over our record: a receiving guest that runs is running (its Finish was cut short).
      if (instance.incomingMigrationId && status.status !== 'running')
        return { state: 'incoming', qemuStatus: status.status };
      return { state: toDomainState(status.status), qemuStatus: status.status };
    } catch (error) {
      // Said, not swallowed: a QEMU that does not answer (stuck on storage, stopped) needs an operator.
      // EAGAIN: the monitor's accept queue is full of earlier attempts that a stuck QEMU never took.
      const why =
        error instanceof QmpTimeoutError
          ? `did not answer query-status within ${formatSeconds(error.timeoutMs)}`
          : (error as NodeJS.ErrnoException).code === 'EAGAIN'
            ? 'did not answer query-status (its monitor accepts no connections: stuck or stopped)'
            : `query-status failed: ${(error as Error).message}`;
      return {
        state: 'unknown',
        qemuStatus: 'unreachable',
        problem: `QEMU of ${instance.definition.name} on ${this.hostLabel} ${why}`,
      };
    }
  }
}

export function toDomainState(qemuStatus: string): DomainState {
  switch (qemuStatus) {
    case 'running':
      return 'running';
    case 'inmigrate':
      return 'incoming';
    case 'finish-migrate':
      return 'migrating';
    case 'paused':
    case 'postmigrate':
    case 'prelaunch':
    case 'suspended':
    case 'save-vm':
    case 'restore-vm':
      return 'paused';
    default:
      return 'unknown';
  }
}
