// The per-source-host evacuation lock, in the spirit of locks.ts: a file naming its holder (the agent process
// serving that evacuation's controller), cleared by the next taker once that process is gone. Beside it an
// abort marker, written by `vmig evacuate SRC --abort` from another shell and polled by the running job.
// Both names start with "@", which no domain name can, so they never collide with per-domain locks.
// The RPC handlers that use it are in evacuation.ts.
import { join } from 'node:path';
import { VmigError } from '../errors.js';
import { readJsonOrUndefined, unlinkIfPresent, writeFileDurable } from '../util/fs.js';
import { LockFile, type LockOwner } from './lock-file.js';
import type { StateDir } from './state.js';

export interface EvacuationHolder extends LockOwner {
  jobId: string;
  controller: string;
  startedAt: string;
}

export interface AbortMarker {
  jobId: string;
  requestedBy: string;
}

export class HostLock {
  constructor(
    private readonly state: StateDir,
    /** How this host names itself in messages. */
    private readonly host: () => string,
  ) {}

  private lockFile(): LockFile<Omit<EvacuationHolder, keyof LockOwner>> {
    return new LockFile(join(this.state.locksDir, '@evacuation.lock'));
  }

  private get abortPath(): string {
    return join(this.state.locksDir, '@evacuation.abort');
  }

  /** The holder, if its agent process still runs. */
  async liveHolder(): Promise<EvacuationHolder | undefined> {
    const state = await this.lockFile().inspect();
    return state?.alive ? state.holder : undefined;
  }

  /** Takes the lock, or fails at once (LOCKED) naming the job that holds it. */
  async acquire(jobId: string, controller: string): Promise<void> {
    await this.state.ensure();
    let result;
    try {
      result = await this.lockFile().acquire({ jobId, controller, startedAt: new Date().toISOString() });
    } catch (error) {
      throw new VmigError(
        'LOCKED',
        `could not take the evacuation lock of ${this.host()}: ${(error as Error).message}`,
      );
    }
    if (!result.acquired) {
      const current = result.holder;
      throw new VmigError(
        'LOCKED',
        `${this.host()} is already being evacuated by job ${current.jobId} (controller ${current.controller}, started ${current.startedAt})`,
      );
    }
    // A marker left by an earlier, finished job must not abort this one.
    await unlinkIfPresent(this.abortPath);
  }

  /** Releases the lock (and its abort marker) if `jobId` holds it. */
  async release(jobId: string): Promise<void> {
    if (await this.lockFile().release((holder) => holder.jobId === jobId)) await unlinkIfPresent(this.abortPath);
  }

  async requestAbort(marker: AbortMarker): Promise<void> {
    await writeFileDurable(this.abortPath, `${JSON.stringify({ ...marker, requestedAt: new Date().toISOString() })}\n`);
  }

  async abortMarker(): Promise<AbortMarker | undefined> {
    return readJsonOrUndefined<AbortMarker>(this.abortPath).catch(() => undefined);
  }
}
