// Per-domain migration locks on the source host. A lock file names its holder; a holder whose agent process
// is gone leaves a stale lock that the next taker clears (the journal, not the lock, records what happened).
import { open, readFile } from 'node:fs/promises';
import { VmigError } from '../errors.js';
import { unlinkIfPresent } from '../util/fs.js';
import { pidAlive } from '../util/process.js';
import type { StateDir } from './state.js';

export interface LockHolder {
  migrationId: string;
  controller: string;
  startedAt: string;
  agentPid: number;
}

export class Locks {
  constructor(
    private readonly state: StateDir,
    private readonly label: () => string,
  ) {}

  private get host(): string {
    return this.label();
  }

  async heldBy(name: string): Promise<LockHolder | undefined> {
    const holder = await this.read(name);
    if (!holder) return undefined;
    return pidAlive(holder.agentPid) ? holder : undefined;
  }

  async acquire(name: string, holder: LockHolder): Promise<void> {
    const path = this.state.lockPath(name);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx', 0o644);
        try {
          await handle.writeFile(`${JSON.stringify(holder)}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const current = await this.read(name);
      if (current && pidAlive(current.agentPid)) {
        throw new VmigError(
          'LOCKED',
          `domain ${name} on ${this.host} is already being migrated by job ${current.migrationId} (controller ${current.controller}, started ${current.startedAt})`,
        );
      }
      await unlinkIfPresent(path);
    }
    throw new VmigError('LOCKED', `could not take the migration lock of ${name} on ${this.host}`);
  }

  async release(name: string, migrationId: string): Promise<void> {
    const current = await this.read(name);
    if (current?.migrationId === migrationId) await unlinkIfPresent(this.state.lockPath(name));
  }

  async read(name: string): Promise<LockHolder | undefined> {
    try {
      return JSON.parse(await readFile(this.state.lockPath(name), 'utf8')) as LockHolder;
    } catch {
      return undefined;
    }
  }
}
