// Source: one blockdev-mirror per copied disk into an NBD client node connected to the destination's export.
// The mirrors run until every one is READY (the copy caught up; from then on QEMU mirrors each guest write), then
// the RAM migration starts. At the switch-over (QEMU paused before it, pause-before-switchover) each READY job is
// cancelled, which for a mirror means: drain what is left and stop, without pivoting, so the source keeps its own
// disk and the destination's image equals it (libvirt's way). Any failure before that cancels them outright.
import { VmigError } from '../errors.js';
import { diskNode } from '../qemu/argv.js';
import type { DiskCopyProgress, MigrationProgress } from '../qemu/migration-stats.js';
import type { QmpClient } from '../qemu/qmp.js';
import type { NbdAddress } from './exports.js';
import type { DiskCopy, SourceDisk } from './plan.js';

export const mirrorJobId = (target: string): string => `vmig-mirror-${target}`;
const clientNode = (target: string): string => `vmig-nbd-${target}`;
/** vmig's own jobs on a QEMU, as `vmig recover` finds them. */
export const isMirrorJob = (id: string): boolean => id.startsWith('vmig-mirror-');

export interface BlockJob {
  device: string;
  len: number;
  offset: number;
  ready: boolean;
  status: string;
  'io-status'?: string;
}

export interface DiskProgress {
  target: string;
  copied: number;
  total: number;
  ready: boolean;
}

interface QueryBlockImage {
  filename: string;
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'backing-filename-format'?: string;
  'full-backing-filename'?: string;
  'backing-image'?: QueryBlockImage;
}

type DefinedDisk = { target: string; path: string; format: 'raw' | 'qcow2'; shared?: boolean };
export type QueryBlockDevices = Array<{ device: string; inserted?: { image: QueryBlockImage } }>;

/** What the running QEMU says about the definition's disks: sizes, allocation, backing chain. */
export async function describeDisks(qmp: QmpClient, disks: DefinedDisk[]): Promise<SourceDisk[]> {
  return disksFromQueryBlock(await qmp.execute<QueryBlockDevices>('query-block'), disks);
}

/** The same from a query-block answer (the dry run asks on the user monitor, without the agent's connection). */
export function disksFromQueryBlock(devices: QueryBlockDevices, disks: DefinedDisk[]): SourceDisk[] {
  return disks.map((disk) => {
    const image = devices.find((device) => device.device === disk.target)?.inserted?.image;
    if (!image) throw new VmigError('MIGRATION_FAILED', `QEMU has no drive ${disk.target} (${disk.path})`);
    let chainAllocated = 0;
    for (let layer: QueryBlockImage | undefined = image; layer; layer = layer['backing-image'])
      chainAllocated += layer['actual-size'] ?? layer['virtual-size'];
    const backingPath = image['full-backing-filename'] ?? image['backing-filename'];
    return {
      target: disk.target,
      path: disk.path,
      format: disk.format,
      virtualSize: image['virtual-size'],
      topAllocated: image['actual-size'] ?? image['virtual-size'],
      chainAllocated,
      ...(backingPath
        ? {
            backing: {
              path: backingPath,
              format: image['backing-filename-format'] ?? image['backing-image']?.format ?? 'raw',
            },
          }
        : {}),
      ...(disk.shared !== undefined ? { shared: disk.shared } : {}),
    };
  });
}

export interface MirrorOptions {
  /** copy-mode write-blocking: each guest write completes only once it reached the destination too. */
  synchronousWrites: boolean;
  /** Bytes/s for all disks together; 0: no cap. */
  bandwidth: number;
}

/** The mirrors of one migration, on the source QEMU's monitor. */
export class Mirrors {
  private started: string[] = [];
  private attached: string[] = [];
  /** Jobs cancelled from outside (domjobabort through the user monitor), told apart from a broken copy. */
  private readonly cancelledOutside = new Set<string>();
  private cancelling = false;

  constructor(
    private readonly qmp: QmpClient,
    private readonly copies: DiskCopy[],
    private readonly addressOf: (target: string) => NbdAddress,
  ) {
    qmp.on('event', (event) => {
      if (event.event === 'BLOCK_JOB_CANCELLED' && !this.cancelling)
        this.cancelledOutside.add(String(event.data?.device));
    });
  }

  get targets(): string[] {
    return this.copies.map((copy) => copy.target);
  }

  async start(options: MirrorOptions): Promise<void> {
    const speed = options.bandwidth > 0 ? Math.max(1, Math.floor(options.bandwidth / this.copies.length)) : 0;
    for (const copy of this.copies) {
      const address = this.addressOf(copy.target);
      await this.qmp.execute('blockdev-add', {
        driver: 'nbd',
        'node-name': clientNode(copy.target),
        server: address,
        export: copy.target,
      });
      this.attached.push(copy.target);
      await this.qmp.execute('blockdev-mirror', {
        'job-id': mirrorJobId(copy.target),
        device: diskNode(copy.target),
        target: clientNode(copy.target),
        sync: copy.sync,
        ...(options.synchronousWrites ? { 'copy-mode': 'write-blocking' } : {}),
        ...(speed > 0 ? { speed } : {}),
        // A failed write to the destination fails the job (and so the migration), never the guest.
        'on-target-error': 'stop',
        'auto-dismiss': true,
      });
      this.started.push(copy.target);
    }
  }

  async jobs(): Promise<BlockJob[]> {
    const jobs = await this.qmp.execute<BlockJob[]>('query-block-jobs');
    return jobs.filter((job) => this.started.some((target) => job.device === mirrorJobId(target)));
  }

  /** Per-disk figures; a job that vanished or stopped on an error fails the copy. */
  async progress(): Promise<DiskProgress[]> {
    const jobs = await this.jobs();
    return this.started.map((target) => {
      const job = jobs.find((entry) => entry.device === mirrorJobId(target));
      if (!job && this.cancelledOutside.has(mirrorJobId(target)))
        throw new VmigError('MIGRATION_ABORTED', `the copy of disk ${target} was cancelled`);
      if (!job)
        throw new VmigError(
          'MIGRATION_FAILED',
          `the copy of disk ${target} stopped (its NBD connection to the destination failed)`,
        );
      if (job['io-status'] && job['io-status'] !== 'ok')
        throw new VmigError(
          'MIGRATION_FAILED',
          `the copy of disk ${target} failed: ${job['io-status']} writing to the destination`,
        );
      return { target, copied: job.offset, total: job.len, ready: job.ready };
    });
  }

  /** At the switch-over (guest paused): let each READY mirror drain and end without pivoting, then detach. */
  async complete(timeoutMs = 60_000): Promise<void> {
    this.cancelling = true;
    for (const target of this.started) await this.qmp.execute('block-job-cancel', { device: mirrorJobId(target) });
    await this.waitGone(timeoutMs, 'complete');
    this.started = [];
    await this.detach();
  }

  /** Stops every mirror at once (the copy is abandoned) and detaches the NBD clients. */
  async cancel(): Promise<void> {
    this.cancelling = true;
    for (const target of this.started)
      await this.qmp.execute('block-job-cancel', { device: mirrorJobId(target), force: true }).catch(() => undefined);
    await this.waitGone(10_000, 'cancel').catch(() => undefined);
    this.started = [];
    await this.detach();
  }

  private async waitGone(timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const jobs = await this.jobs();
      if (jobs.length === 0) return;
      if (Date.now() > deadline)
        throw new VmigError(
          'MIGRATION_FAILED',
          `the disk mirrors did not ${what} within ${Math.round(timeoutMs / 1000)} s`,
        );
      await this.qmp
        .waitForEvent((event) => event.event === 'BLOCK_JOB_COMPLETED' || event.event === 'BLOCK_JOB_CANCELLED', 200)
        .catch(() => undefined);
    }
  }

  private async detach(): Promise<void> {
    for (const target of this.attached.splice(0))
      await this.qmp.execute('blockdev-del', { 'node-name': clientNode(target) }).catch(() => undefined);
  }
}

/** `vmig recover`: cancels vmig's mirror jobs left on a QEMU whose agent is gone, and detaches their NBD clients. */
export async function cancelLeftoverMirrors(qmp: QmpClient): Promise<string[]> {
  const jobs = (await qmp.execute<BlockJob[]>('query-block-jobs')).filter((job) => isMirrorJob(job.device));
  for (const job of jobs)
    await qmp.execute('block-job-cancel', { device: job.device, force: true }).catch(() => undefined);
  for (let attempt = 0; attempt < 50; attempt++) {
    const left = (await qmp.execute<BlockJob[]>('query-block-jobs')).filter((job) => isMirrorJob(job.device));
    if (left.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const targets = jobs.map((job) => job.device.slice('vmig-mirror-'.length));
  for (const target of targets)
    await qmp.execute('blockdev-del', { 'node-name': clientNode(target) }).catch(() => undefined);
  return targets;
}

/** Waits until every mirror is READY, reporting progress; a copy that moves no byte for `stallTimeoutMs` fails. */
export async function waitUntilReady(
  qmp: QmpClient,
  mirrors: Mirrors,
  options: {
    intervalMs: number;
    stallTimeoutMs: number;
    stopped: () => string | undefined;
    onProgress: (disks: DiskProgress[]) => void;
  },
): Promise<DiskProgress[]> {
  let lastCopied = -1;
  let lastMoved = Date.now();
  for (;;) {
    const wake = qmp
      .waitForEvent(
        (event) =>
          event.event === 'BLOCK_JOB_READY' ||
          event.event === 'BLOCK_JOB_COMPLETED' ||
          event.event === 'BLOCK_JOB_ERROR',
        options.intervalMs,
      )
      .catch(() => undefined);
    const stopped = options.stopped();
    if (stopped) throw new VmigError('MIGRATION_ABORTED', stopped);
    const disks = await mirrors.progress();
    options.onProgress(disks);
    if (disks.every((disk) => disk.ready)) return disks;
    const copied = disks.reduce((sum, disk) => sum + disk.copied, 0);
    if (copied !== lastCopied) {
      lastCopied = copied;
      lastMoved = Date.now();
    } else if (Date.now() - lastMoved > options.stallTimeoutMs) {
      throw new VmigError(
        'MIGRATION_FAILED',
        `the disk copy moved no data for ${Math.round(options.stallTimeoutMs / 1000)} s: the destination or the network to it stopped answering`,
      );
    }
    await wake;
  }
}

export const toDiskProgress = (disk: DiskProgress): DiskCopyProgress => ({
  target: disk.target,
  copiedBytes: disk.copied,
  totalBytes: disk.total,
  ready: disk.ready,
});

/** The progress record while disks copy and memory has not started: status "disks", no memory figures yet. */
export function diskPhaseProgress(disks: DiskCopyProgress[], elapsedMs: number): MigrationProgress {
  return {
    status: 'disks',
    pass: 0,
    transferredBytes: 0,
    remainingBytes: 0,
    totalBytes: 0,
    throughputBps: 0,
    dirtyRateBps: 0,
    expectedDowntimeMs: undefined,
    elapsedMs,
    disks,
  };
}
