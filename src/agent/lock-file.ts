// A lock file that names its holder, taken atomically and broken safely when its holder is gone.
//
// Taking: the complete record is written to a private temp file and link()ed into place, so a reader never
// sees a half-written lock (an empty file that looked stale let two takers in).
// Breaking a stale lock: read it, judge its holder dead, then take a marker named after exactly that content
// (exclusive create), re-read, and rename the lock aside; the moved file is checked to be the one judged
// dead before it is deleted. Only the marker's owner can move that lock, so a lock another taker has just put
// in place is never removed by a slow breaker.
import { createHash, randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncDir, unlinkIfPresent, writeNewFile } from '../util/fs.js';
import { sleep } from '../util/timers.js';
import { bootTimeMs, identityAlive, pidAlive, processIdentity } from '../util/process.js';

/** Who holds a lock. `agentPid` alone is the old format (before start time and boot id were kept). */
export interface LockOwner {
  agentPid: number;
  /** /proc/PID/stat field 22 of the holder. */
  agentStartTime?: string;
  bootId?: string;
  /** Tells two takings apart even with the same holder fields. */
  nonce?: string;
}

export interface LockState<T> {
  holder: T & LockOwner;
  alive: boolean;
}

export type AcquireResult<T> = { acquired: true; holder: T & LockOwner } | { acquired: false; holder: T & LockOwner };

/** A breaker that holds its marker longer than this was killed mid-break; its marker is cleared. */
const MARKER_STALE_MS = 30_000;
/** Rounds of take / judge / break before giving up (each break makes progress, so a few suffice). */
const ATTEMPTS = 40;

export function currentOwner(): LockOwner {
  const self = processIdentity();
  return {
    agentPid: self.pid,
    ...(self.startTime !== undefined ? { agentStartTime: self.startTime } : {}),
    ...(self.bootId !== undefined ? { bootId: self.bootId } : {}),
  };
}

/** Whether the holder still runs. An old-format lock (pid only) written before this boot is dead too. */
export function ownerAlive(owner: LockOwner, writtenAtMs?: number): boolean {
  if (owner.agentStartTime === undefined && owner.bootId === undefined) {
    const booted = bootTimeMs();
    if (writtenAtMs !== undefined && booted !== undefined && writtenAtMs < booted) return false;
    return Number.isInteger(owner.agentPid) && owner.agentPid > 0 && pidAlive(owner.agentPid);
  }
  return identityAlive({
    pid: owner.agentPid,
    ...(owner.agentStartTime !== undefined ? { startTime: owner.agentStartTime } : {}),
    ...(owner.bootId !== undefined ? { bootId: owner.bootId } : {}),
  });
}

export class LockFile<T extends object> {
  constructor(readonly path: string) {}

  /** The holder and whether it lives, or undefined when nobody holds the lock (or its file is unreadable). */
  async inspect(): Promise<LockState<T> | undefined> {
    return (await this.snapshot())?.state;
  }

  /** Takes the lock for `holder`, breaking a stale one; when a live holder has it, says who. */
  async acquire(holder: T): Promise<AcquireResult<T>> {
    const record = { ...holder, ...currentOwner(), nonce: randomBytes(16).toString('hex') } as T & LockOwner;
    const temp = this.sidePath('take');
    await writeNewFile(temp, `${JSON.stringify(record)}\n`);
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        try {
          await link(temp, this.path);
          await syncDir(dirname(this.path));
          return { acquired: true, holder: record };
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const seen = await this.snapshot();
        if (!seen) continue;
        if (seen.state?.alive) return { acquired: false, holder: seen.state.holder };
        await this.breakStale(seen.text);
      }
      throw new Error(`could not take the lock ${this.path}: it kept changing hands`);
    } finally {
      await unlinkIfPresent(temp);
    }
  }

  /** Removes the lock if `owns` says it is ours (a live holder's lock is never taken from under it). */
  async release(owns: (holder: T & LockOwner) => boolean): Promise<boolean> {
    const seen = await this.snapshot();
    if (!seen?.state || !owns(seen.state.holder)) return false;
    await unlinkIfPresent(this.path);
    return true;
  }

  /** Removes a lock whose holder is gone; returns false (and leaves it) while the holder lives. */
  async clearStale(): Promise<boolean> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const seen = await this.snapshot();
      if (!seen) return true;
      if (seen.state?.alive) return false;
      await this.breakStale(seen.text);
    }
    return false;
  }

  private async snapshot(): Promise<{ text: string; state: LockState<T> | undefined } | undefined> {
    let text: string;
    let writtenAtMs: number;
    try {
      const handle = await open(this.path, 'r');
      try {
        text = await handle.readFile('utf8');
        writtenAtMs = (await handle.stat()).mtimeMs;
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let holder: (T & LockOwner) | undefined;
    try {
      holder = JSON.parse(text) as T & LockOwner;
    } catch {
      holder = undefined;
    }
    // An unparsable file (a torn write by an older vmig) has no holder: stale.
    const state = holder && typeof holder === 'object' ? { holder, alive: ownerAlive(holder, writtenAtMs) } : undefined;
    return { text, state };
  }

  private async breakStale(seenText: string): Promise<void> {
    const marker = `${this.path}.break-${createHash('sha256').update(seenText).digest('hex').slice(0, 16)}`;
    try {
      await (await open(marker, 'wx', 0o600)).close();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const since = await stat(marker)
        .then((info) => Date.now() - info.mtimeMs)
        .catch(() => 0);
      if (since > MARKER_STALE_MS) await unlinkIfPresent(marker);
      else await sleep(2 + Math.floor(Math.random() * 8));
      return;
    }
    try {
      const current = await readFile(this.path, 'utf8').catch(() => undefined);
      if (current !== seenText) return;
      const aside = this.sidePath('stale');
      try {
        await rename(this.path, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      const moved = await readFile(aside, 'utf8').catch(() => undefined);
      if (moved !== seenText) {
        // Only possible after a breaker stalled past MARKER_STALE_MS: put the live lock back.
        await link(aside, this.path).catch(() => undefined);
      }
      await unlink(aside).catch(() => undefined);
    } finally {
      await unlinkIfPresent(marker);
    }
  }

  private sidePath(kind: string): string {
    return join(dirname(this.path), `.${basename(this.path)}.${kind}.${process.pid}.${randomBytes(6).toString('hex')}`);
  }
}
