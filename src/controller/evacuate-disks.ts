// Evacuation placement by free disk space, for guests whose disks are copied (--copy-storage-all). Pure: the
// runner gathers each guest's needs on each destination (its disks planned as its migration would plan them:
// directory and bytes) and each destination's free space per directory (host.disk-space); this books them,
// per file system, and says why a destination cannot take a guest. Prepare re-checks for real on arrival.
import { formatBytes } from '../util/format.js';

/** What a guest's copies need in one destination directory. */
export interface DiskNeed {
  directory: string;
  bytes: number;
}

/** A destination directory as host.disk-space saw it. */
export interface DirectorySpace {
  directory: string;
  /** The file system (device number): directories on one device share its free space. */
  device?: number;
  availableBytes?: number;
  missing?: true;
}

/** Free bytes per file system of each destination, net of every copy booked there (in flight included). */
export interface DiskLedger {
  /** host → directory → file-system key; undefined: the directory does not exist there. */
  directories: Map<string, Map<string, string | undefined>>;
  /** host → file-system key → free bytes. */
  free: Map<string, Map<string, number>>;
}

export function openDiskLedger(facts: Array<{ host: string; diskSpace?: DirectorySpace[] }>): DiskLedger {
  const ledger: DiskLedger = { directories: new Map(), free: new Map() };
  for (const fact of facts) {
    const directories = new Map<string, string | undefined>();
    const free = new Map<string, number>();
    for (const space of fact.diskSpace ?? []) {
      if (space.missing || space.availableBytes === undefined) {
        directories.set(space.directory, undefined);
        continue;
      }
      const key = String(space.device ?? space.directory);
      directories.set(space.directory, key);
      free.set(key, space.availableBytes);
    }
    ledger.directories.set(fact.host, directories);
    ledger.free.set(fact.host, free);
  }
  return ledger;
}

/** The needs summed per file system; directories the facts do not know are left to Prepare. */
function byFileSystem(ledger: DiskLedger, host: string, needs: DiskNeed[]) {
  const sums = new Map<string, { directory: string; bytes: number }>();
  const missing: string[] = [];
  const directories = ledger.directories.get(host);
  for (const need of needs) {
    if (!directories?.has(need.directory)) continue;
    const key = directories.get(need.directory);
    if (key === undefined) {
      missing.push(need.directory);
      continue;
    }
    const sum = sums.get(key) ?? { directory: need.directory, bytes: 0 };
    sum.bytes += need.bytes;
    sums.set(key, sum);
  }
  return { sums, missing };
}

/** Why `host` has no room for these copies, as a clause for the report; undefined when they fit. */
export function diskObstacle(ledger: DiskLedger, host: string, needs: DiskNeed[] | undefined): string | undefined {
  if (!needs?.length) return undefined;
  const { sums, missing } = byFileSystem(ledger, host, needs);
  if (missing.length > 0) return `${host} has no directory ${missing[0]} for the copied disks`;
  for (const [key, { directory, bytes }] of sums) {
    const free = ledger.free.get(host)?.get(key) ?? 0;
    if (bytes > free)
      return `${host} has ${formatBytes(free)} free in ${directory}, the copied disks need ${formatBytes(bytes)}`;
  }
  return undefined;
}

/** Books (sign 1) or gives back (sign -1) the copies' bytes on `host`. */
export function bookDisks(ledger: DiskLedger, host: string, needs: DiskNeed[] | undefined, sign: 1 | -1): void {
  if (!needs?.length) return;
  const free = ledger.free.get(host);
  if (!free) return;
  for (const [key, { bytes }] of byFileSystem(ledger, host, needs).sums)
    free.set(key, (free.get(key) ?? 0) - sign * bytes);
}

/** A guest's needs in one destination from its planned copies: bytes summed per destination directory. */
export function diskNeeds(copies: Array<{ destinationPath: string; neededBytes: number }>): DiskNeed[] {
  const needs = new Map<string, number>();
  for (const copy of copies) {
    const directory = copy.destinationPath.slice(0, copy.destinationPath.lastIndexOf('/')) || '/';
    needs.set(directory, (needs.get(directory) ?? 0) + copy.neededBytes);
  }
  return [...needs].map(([directory, bytes]) => ({ directory, bytes }));
}
