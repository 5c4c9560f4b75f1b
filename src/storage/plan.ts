// Which disks a migration copies, where they land and how much room they take. Pure: the controller plans from
// what the source reports (Begin) and the options; the destination re-checks the room on its own disks.
import { z } from 'zod';
import { VmigError } from '../errors.js';

/** A disk as the running source QEMU sees it (query-block), with the definition's marks. */
export const sourceDiskSchema = z.object({
  target: z.string(),
  path: z.string(),
  format: z.enum(['raw', 'qcow2']),
  virtualSize: z.number().int().min(0),
  /** Bytes allocated in the top image only. */
  topAllocated: z.number().int().min(0),
  /** Bytes allocated along the whole backing chain. */
  chainAllocated: z.number().int().min(0),
  backing: z.object({ path: z.string(), format: z.string() }).optional(),
  shared: z.boolean().optional(),
});
export type SourceDisk = z.infer<typeof sourceDiskSchema>;

/** One disk to copy: the destination creates `destinationPath`, the source mirrors into it. */
export const diskCopySchema = z.object({
  target: z.string(),
  sourcePath: z.string(),
  destinationPath: z.string(),
  format: z.enum(['raw', 'qcow2']),
  virtualSize: z.number().int().min(0),
  /** full: the whole disk (flattened); top: only the top layer, on the same backing file at the destination. */
  sync: z.enum(['full', 'top']),
  backing: z.object({ path: z.string(), format: z.string() }).optional(),
  /** What the copy is expected to occupy on the destination. */
  neededBytes: z.number().int().min(0),
});
export type DiskCopy = z.infer<typeof diskCopySchema>;

/** What the dry run found on the destination: each image created or reused as it is, and the room per file system. */
export const dryStorageSchema = z.object({
  images: z.array(
    z.object({
      target: z.string(),
      destinationPath: z.string(),
      action: z.enum(['create', 'reuse']),
      neededBytes: z.number().int().min(0),
    }),
  ),
  space: z.array(
    z.object({
      directory: z.string(),
      neededBytes: z.number().int().min(0),
      availableBytes: z.number().int().min(0),
    }),
  ),
});
export type DryStorage = z.infer<typeof dryStorageSchema>;

export interface StorageMapping {
  from: string;
  to: string;
}

export interface StorageOptions {
  copyAll?: boolean;
  copyInc?: boolean;
  /** Targets to copy (virsh --migrate-disks). */
  migrateDisks?: string[];
  /** Active mirror (copy-mode write-blocking). */
  synchronousWrites?: boolean;
  storageMap?: StorageMapping[];
  /** Evacuate: a guest without a disk to copy simply migrates (instead of being refused). */
  whereLocal?: boolean;
}

/** Room for qcow2 metadata and rounding, per copied disk. */
const METADATA_MARGIN = 1024 * 1024;

/** Parses `--storage-map /src/dir=/dst/dir` (repeatable). */
export function parseStorageMap(values: string[]): StorageMapping[] {
  return values.map((value) => {
    const [from, to, ...rest] = value.split('=');
    const clean = (path: string) => (path.length > 1 ? path.replace(/\/+$/, '') : path);
    if (!from || !to || rest.length > 0 || !from.startsWith('/') || !to.startsWith('/')) {
      throw new VmigError('USAGE', `--storage-map ${value}: expected SOURCE_DIR=DESTINATION_DIR, both absolute`);
    }
    return { from: clean(from), to: clean(to) };
  });
}

/** The destination path of a source path: the longest mapped directory that contains it, else the same path. */
export function mapPath(path: string, map: StorageMapping[] = []): string {
  const match = map
    .filter((entry) => path.startsWith(`${entry.from === '/' ? '' : entry.from}/`))
    .sort((a, b) => b.from.length - a.from.length)[0];
  if (!match) return path;
  return `${match.to === '/' ? '' : match.to}${path.slice(match.from === '/' ? 0 : match.from.length)}`;
}

export const copiesStorage = (options: StorageOptions): boolean => options.copyAll === true || options.copyInc === true;

/** The disks to copy, or [] when no copy option is given. Refuses a request that cannot be met, naming the disk. */
/** Flags that conflict, or that mean nothing without a copy: refused before any host is contacted. */
export function checkStorageFlags(options: StorageOptions): void {
  if (options.copyAll && options.copyInc)
    throw new VmigError('USAGE', '--copy-storage-all and --copy-storage-inc exclude each other');
  if (copiesStorage(options)) return;
  const stray = options.migrateDisks
    ? '--migrate-disks'
    : options.synchronousWrites
      ? '--copy-storage-synchronous-writes'
      : options.storageMap?.length
        ? '--storage-map'
        : undefined;
  if (stray) throw new VmigError('USAGE', `${stray} needs --copy-storage-all or --copy-storage-inc`);
}

export function planStorage(domain: string, disks: SourceDisk[], options: StorageOptions): DiskCopy[] {
  checkStorageFlags(options);
  if (!copiesStorage(options)) return [];
  const known = disks.map((disk) => disk.target);
  let chosen: SourceDisk[];
  if (options.migrateDisks) {
    const unknown = options.migrateDisks.filter((target) => !known.includes(target));
    if (unknown.length > 0) {
      throw new VmigError(
        'USAGE',
        `--migrate-disks names ${unknown.join(', ')}, which ${domain} does not have (its disks: ${known.join(', ') || 'none'})`,
      );
    }
    chosen = disks.filter((disk) => options.migrateDisks!.includes(disk.target));
    const shared = chosen.find((disk) => disk.shared === true);
    if (shared)
      throw new VmigError(
        'USAGE',
        `--migrate-disks names ${shared.target}, which ${domain}'s definition marks as shared storage: it is not copied`,
      );
  } else {
    const marked = disks.filter((disk) => disk.shared === false);
    chosen = marked.length > 0 ? marked : disks.filter((disk) => disk.shared !== true);
  }
  if (chosen.length === 0 && options.whereLocal) return [];
  if (chosen.length === 0)
    throw new VmigError(
      'USAGE',
      `${domain} has no disk to copy (${disks.length === 0 ? 'it has no disks' : 'every disk is marked shared'})`,
    );
  const copies = chosen.map((disk): DiskCopy => {
    const sync = options.copyInc ? 'top' : 'full';
    const keepsBacking = sync === 'top' && disk.backing !== undefined;
    const allocated = keepsBacking ? disk.topAllocated : Math.min(disk.virtualSize, disk.chainAllocated);
    return {
      target: disk.target,
      sourcePath: disk.path,
      destinationPath: mapPath(disk.path, options.storageMap),
      format: disk.format,
      virtualSize: disk.virtualSize,
      sync,
      ...(keepsBacking ? { backing: disk.backing } : {}),
      neededBytes: allocated + METADATA_MARGIN,
    };
  });
  const paths = new Set<string>();
  for (const copy of copies) {
    if (paths.has(copy.destinationPath))
      throw new VmigError('USAGE', `two disks of ${domain} would be copied to ${copy.destinationPath}`);
    paths.add(copy.destinationPath);
  }
  return copies;
}

/** The definition the destination runs: copied disks at their destination paths, flattened where copied in full. */
export function destinationDisks<T extends { target: string; path: string }>(disks: T[], copies: DiskCopy[]): T[] {
  return disks.map((disk) => {
    const copy = copies.find((entry) => entry.target === disk.target);
    return copy ? { ...disk, path: copy.destinationPath } : disk;
  });
}
