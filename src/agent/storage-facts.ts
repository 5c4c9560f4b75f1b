// Storage facts for a planner (evacuate): the disks of a running guest as its QEMU reports them (source), and
// the free space where copies would land (destination). Read-only: nothing is locked, created or changed.
import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VmigError } from '../errors.js';
import type { HandlerGroup } from '../protocol/table.js';
import { qmpOnce } from '../qemu/qmp.js';
import { disksFromQueryBlock, type QueryBlockDevices } from '../storage/mirror.js';
import type { SourceDisk } from '../storage/plan.js';
import type { AgentContext } from './context.js';
import type { Instance } from './instances.js';

/** Sizes, allocation and backing chains of an instance's disks, asked on the user monitor (the agent's own
 * QMP connection may belong to a migration in flight). */
export async function readSourceDisks(instance: Instance): Promise<SourceDisk[]> {
  if (instance.definition.disks.length === 0) return [];
  const devices = await qmpOnce<QueryBlockDevices>(instance.paths.userQmpSocket, 'query-block', undefined, 5_000);
  return disksFromQueryBlock(devices, instance.definition.disks);
}

export function storageFactHandlers(context: AgentContext): HandlerGroup<'domain.disks' | 'host.disk-space'> {
  return {
    async 'domain.disks'({ name }) {
      const instance = await context.instances.find(name);
      if (!instance) throw new VmigError('DOMAIN_NOT_RUNNING', `domain ${name} is not running on ${context.host}`);
      return { disks: await readSourceDisks(instance) };
    },

    /** Per destination path: its directory's file system (device) and the bytes free there, or that it is missing. */
    async 'host.disk-space'({ paths }) {
      return {
        spaces: await Promise.all(
          paths.map(async (path) => {
            const directory = dirname(path);
            const info = await stat(directory).catch(() => undefined);
            if (!info?.isDirectory()) return { path, directory, missing: true };
            const fs = await statfs(directory);
            return { path, directory, device: info.dev, availableBytes: fs.bavail * fs.bsize };
          }),
        ),
      };
    },
  };
}
