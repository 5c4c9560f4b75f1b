// Evacuate, gathering for the disk-space placement (evacuate-disks.ts decides): for each selected guest whose
// disks would be copied to a destination (--copy-storage-all, per destination's options), its copies planned
// as its migration would plan them; then each destination's free space in the directories those copies need.
// A guest whose disks cannot be read or planned gets no needs here: its migration reports that itself.
import { dirname } from 'node:path';
import type { HostConnection } from '../hosts/connection.js';
import { copiesStorage, planStorage, type SourceDisk, type StorageOptions } from '../storage/plan.js';
import { diskNeeds, type DirectorySpace, type DiskNeed } from './evacuate-disks.js';

export interface DiskFacts {
  /** guest → destination host → what its copies need there. */
  needs: Map<string, Map<string, DiskNeed[]>>;
  /** destination host → its directories the copies need, as host.disk-space saw them. */
  spaces: Map<string, DirectorySpace[]>;
}

export async function gatherDiskFacts(
  source: HostConnection,
  destinations: Map<string, HostConnection>,
  guests: string[],
  storageFor: (destination: string) => StorageOptions | undefined,
): Promise<DiskFacts> {
  const facts: DiskFacts = { needs: new Map(), spaces: new Map() };
  const copying = [...destinations.keys()].filter((host) => copiesStorage(storageFor(host) ?? {}));
  if (copying.length === 0 || guests.length === 0) return facts;
  const disks = new Map<string, SourceDisk[]>();
  for (const name of guests) {
    const read = await source.call('domain.disks', { name }).catch(() => undefined);
    if (read && read.disks.length > 0) disks.set(name, read.disks);
  }
  const paths = new Map<string, Set<string>>();
  for (const [name, guestDisks] of disks) {
    for (const host of copying) {
      let copies;
      try {
        copies = planStorage(name, guestDisks, { ...storageFor(host), whereLocal: true });
      } catch {
        continue;
      }
      if (copies.length === 0) continue;
      const byHost = facts.needs.get(name) ?? new Map<string, DiskNeed[]>();
      byHost.set(host, diskNeeds(copies));
      facts.needs.set(name, byHost);
      const wanted = paths.get(host) ?? new Set<string>();
      for (const copy of copies) wanted.add(copy.destinationPath);
      paths.set(host, wanted);
    }
  }
  await Promise.all(
    [...paths].map(async ([host, wanted]) => {
      const answer = await destinations
        .get(host)!
        .call('host.disk-space', { paths: [...wanted] })
        .catch(() => undefined);
      if (!answer) return;
      // One entry per directory (several images may share one).
      const seen = new Map<string, DirectorySpace>();
      for (const space of answer.spaces) {
        if (seen.has(space.directory)) continue;
        seen.set(space.directory, {
          directory: dirname(space.path),
          ...(space.device !== undefined ? { device: space.device } : {}),
          ...(space.availableBytes !== undefined ? { availableBytes: space.availableBytes } : {}),
          ...(space.missing ? { missing: true as const } : {}),
        });
      }
      facts.spaces.set(host, [...seen.values()]);
    }),
  );
  return facts;
}
