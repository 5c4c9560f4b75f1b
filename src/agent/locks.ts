// Per-domain migration locks on the source host. A lock file names its holder (see lock-file.ts for how it is
// taken and broken); a holder whose agent process is gone - exited, its pid reused, or the host rebooted -
// leaves a stale lock that the next taker clears (the journal, not the lock, records what happened).
import { VmigError } from '../errors.js';
import { LockFile, type LockOwner, type LockState } from './lock-file.js';
import type { StateDir } from './state.js';

export interface LockHolder extends LockOwner {
  migrationId: string;
  controller: string;
  startedAt: string;
}

type HolderFields = Omit<LockHolder, keyof LockOwner>;

export class Locks {
  constructor(
    private readonly state: StateDir,
    private readonly label: () => string,
  ) {}

  private get host(): string {
    return this.label();
  }

  private file(name: string): LockFile<HolderFields> {
    return new LockFile<HolderFields>(this.state.lockPath(name));
  }

  async heldBy(name: string): Promise<LockHolder | undefined> {
    const state = await this.inspect(name);
    return state?.alive ? state.holder : undefined;
  }

  /** The holder on record and whether it still runs; undefined when there is no lock. */
  inspect(name: string): Promise<LockState<HolderFields> | undefined> {
    return this.file(name).inspect();
  }

  async acquire(name: string, holder: HolderFields & Partial<LockOwner>): Promise<void> {
    const { migrationId, controller, startedAt } = holder;
    let result;
    try {
      result = await this.file(name).acquire({ migrationId, controller, startedAt });
    } catch (error) {
      throw new VmigError(
        'LOCKED',
        `could not take the migration lock of ${name} on ${this.host}: ${(error as Error).message}`,
      );
    }
    if (!result.acquired) {
      const current = result.holder;
      throw new VmigError(
        'LOCKED',
        `domain ${name} on ${this.host} is already being migrated by job ${current.migrationId} (controller ${current.controller}, started ${current.startedAt})`,
      );
    }
  }

  async release(name: string, migrationId: string): Promise<void> {
    await this.file(name).release((holder) => holder.migrationId === migrationId);
  }

  /** Removes the lock if its holder is gone; false while it still runs. */
  clearStale(name: string): Promise<boolean> {
    return this.file(name).clearStale();
  }

  async read(name: string): Promise<LockHolder | undefined> {
    return (await this.inspect(name))?.holder;
  }
}
