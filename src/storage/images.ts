// Destination images: checked (free space, existing files, directories) before anything is created, created with
// qemu-img, and deleted again on failure, but only the ones this migration created. A file vmig did not create
// is never removed.
import { stat, statfs, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { VmigError } from '../errors.js';
import { formatBytes } from '../util/format.js';
import type { DiskCopy } from './plan.js';

export const qemuImg = (env: NodeJS.ProcessEnv = process.env): string => env.VMIG_QEMU_IMG || 'qemu-img';

interface ImageInfo {
  format?: string;
  'virtual-size'?: number;
  'backing-filename'?: string;
}

async function runQemuImg(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const result = await execa(qemuImg(), args, { reject: false, timeout: 60_000, stdin: 'ignore' });
  return {
    ok: result.exitCode === 0 && !result.failed,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? result.shortMessage ?? ''),
  };
}

const firstLine = (text: string): string =>
  text
    .split('\n')
    .map((line) => line.replace(/^qemu-img: /, '').trim())
    .find(Boolean) ?? 'no detail';

/**
 * Whether an existing file is exactly what vmig would create (same format, size and backing, no data written)
 * and not in use: qemu-img takes QEMU's image lock, so an image a QEMU has open is refused.
 */
async function reusable(copy: DiskCopy): Promise<string | undefined> {
  const info = await runQemuImg(['info', '--output=json', copy.destinationPath]);
  if (!info.ok)
    return /lock/i.test(info.stderr) ? 'it is in use' : `it is not a readable image (${firstLine(info.stderr)})`;
  const image = JSON.parse(info.stdout) as ImageInfo;
  if (image.format !== copy.format) return `it is a ${image.format ?? 'unknown'} image, not ${copy.format}`;
  if (image['virtual-size'] !== copy.virtualSize) return `its size differs from the source's`;
  if ((image['backing-filename'] ?? undefined) !== copy.backing?.path) return 'its backing file differs';
  const map = await runQemuImg(['map', '--output=json', '-f', copy.format, copy.destinationPath]);
  if (!map.ok) return `it cannot be read (${firstLine(map.stderr)})`;
  const extents = JSON.parse(map.stdout) as Array<{ data: boolean; depth: number }>;
  // Data in a backing file is expected (--copy-storage-inc); data in the image itself means it holds something.
  if (extents.some((extent) => extent.data && extent.depth === 0)) return 'it already holds data';
  return undefined;
}

export interface PreparedImages {
  /** Paths this migration created: deleted on failure. */
  created: string[];
  /** Empty leftovers of an earlier vmig run, used as they are and never deleted. */
  reused: string[];
}

/** Room on one destination file system: what the copies created there need, what it has free. */
export interface ImageSpace {
  directory: string;
  neededBytes: number;
  availableBytes: number;
}

/**
 * Every check before the first file is created: parent directories, existing files, backing files, free space.
 * Reads only (stat, statfs, qemu-img info/map), so the dry run makes the very same checks.
 */
export async function checkImages(
  copies: DiskCopy[],
  host: string,
): Promise<{ reuse: Set<string>; space: ImageSpace[] }> {
  const reuse = new Set<string>();
  const byDevice = new Map<number, { directory: string; needed: number; available: number }>();
  for (const copy of copies) {
    const directory = dirname(copy.destinationPath);
    const dir = await stat(directory).catch(() => undefined);
    if (!dir?.isDirectory())
      throw new VmigError(
        'HOST_UNSUITABLE',
        `${host} has no directory ${directory} for disk ${copy.target} (create it, or map it with --storage-map)`,
      );
    if (copy.backing) {
      const backing = await stat(copy.backing.path).catch(() => undefined);
      if (!backing)
        throw new VmigError(
          'HOST_UNSUITABLE',
          `${host} lacks ${copy.backing.path}, the backing file of disk ${copy.target} (--copy-storage-inc copies the top layer only)`,
        );
    }
    const existing = await stat(copy.destinationPath).catch(() => undefined);
    if (existing) {
      const why = await reusable(copy);
      if (why)
        throw new VmigError(
          'HOST_UNSUITABLE',
          `${copy.destinationPath} already exists on ${host} and ${why}: vmig does not overwrite it (remove it, or map the disk elsewhere with --storage-map)`,
        );
      reuse.add(copy.destinationPath);
      continue;
    }
    const fs = await statfs(directory);
    const entry = byDevice.get(dir.dev) ?? { directory, needed: 0, available: fs.bavail * fs.bsize };
    entry.needed += copy.neededBytes;
    byDevice.set(dir.dev, entry);
  }
  for (const { directory, needed, available } of byDevice.values()) {
    if (needed > available)
      throw new VmigError(
        'HOST_UNSUITABLE',
        `${host} has ${formatBytes(available)} free in ${directory}, the copied disks need ${formatBytes(needed)}`,
      );
  }
  const space = [...byDevice.values()].map(({ directory, needed, available }) => ({
    directory,
    neededBytes: needed,
    availableBytes: available,
  }));
  return { reuse, space };
}

/** Creates the images (after checkImages); on a failure midway the ones already created are removed. */
export async function createImages(copies: DiskCopy[], reuse: Set<string>, host: string): Promise<PreparedImages> {
  const prepared: PreparedImages = { created: [], reused: [] };
  try {
    for (const copy of copies) {
      if (reuse.has(copy.destinationPath)) {
        prepared.reused.push(copy.destinationPath);
        continue;
      }
      const args = ['create', '-q', '-f', copy.format];
      if (copy.backing) args.push('-b', copy.backing.path, '-F', copy.backing.format);
      // Never clobber a file that appeared since the check: qemu-img itself would truncate it.
      const appeared = await stat(copy.destinationPath).catch(() => undefined);
      if (appeared)
        throw new VmigError(
          'HOST_UNSUITABLE',
          `${copy.destinationPath} appeared on ${host} while vmig prepared it: not overwritten`,
        );
      const result = await runQemuImg([...args, copy.destinationPath, String(copy.virtualSize)]);
      if (!result.ok)
        throw new VmigError(
          'PREPARE_FAILED',
          `creating ${copy.destinationPath} on ${host} failed: ${firstLine(result.stderr)}`,
        );
      prepared.created.push(copy.destinationPath);
    }
  } catch (error) {
    await deleteImages(prepared.created);
    throw error;
  }
  return prepared;
}

/** Removes images this migration created (and nothing else). */
export async function deleteImages(paths: string[]): Promise<void> {
  for (const path of paths) await unlink(path).catch(() => undefined);
}
