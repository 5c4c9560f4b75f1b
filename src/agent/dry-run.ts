// `vmig migrate --dry-run`, agent side: the checks of Begin (source) and Prepare (destination) without their
// effects: no lock, no journal entry, no QEMU. The controller adds the port and the transport probe.
import { parseDomain } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { qemuArgv } from '../qemu/argv.js';
import { qemuBinary, qemuVersion, resolveAccel } from '../qemu/process.js';
import { checkImages } from '../storage/images.js';
import { destinationDisks, type DryStorage } from '../storage/plan.js';
import type { HandlerGroup } from '../protocol/table.js';
import { migratableInstance } from './begin-checks.js';
import type { AgentContext } from './context.js';
import { readDefinition } from './domains.js';
import { loadHostConfig } from './host-config.js';
import { checkArrival } from './prepare-checks.js';
import { readSourceDisks } from './storage-facts.js';

export function dryRunHandlers(context: AgentContext): HandlerGroup<'migrate.dry-begin' | 'migrate.dry-prepare'> {
  const { instances, locks } = context;
  return {
    /** Begin's checks: the domain runs here, is not itself arriving, and no migration holds its lock. */
    async 'migrate.dry-begin'({ name }) {
      const { instance, qemuStatus } = await migratableInstance(context, name);
      const holder = await locks.heldBy(name);
      if (holder)
        throw new VmigError(
          'LOCKED',
          `domain ${name} on ${context.host} is being migrated by job ${holder.migrationId} (controller ${holder.controller}, since ${holder.startedAt})`,
        );
      // The disks as Begin reports them (sizes, allocation, backing).
      const disks = await readSourceDisks(instance);
      return {
        definition: instance.definition,
        accel: instance.accel,
        state: qemuStatus,
        persistent: (await readDefinition(context, name)) !== undefined,
        disks,
      };
    },

    /** Prepare's checks: the definition is valid here, its files exist, memory fits, the name and uuid are free, QEMU and the accelerator are there. */
    async 'migrate.dry-prepare'(options) {
      const received = parseDomain(options.definition, 'definition received from the source');
      const copies = options.storage?.copies ?? [];
      // As Prepare: copied disks at their destination paths, which need not exist yet.
      const definition = { ...received, disks: destinationDisks(received.disks, copies) };
      const config = await loadHostConfig();
      await checkArrival(context, definition, config, {
        forceDefinition: options.forceDefinition,
        copied: copies.map((copy) => copy.destinationPath),
      });
      const sameUuid = (await instances.all()).find((instance) => instance.definition.uuid === definition.uuid);
      if (sameUuid)
        throw new VmigError(
          'DOMAIN_EXISTS',
          `a domain with uuid ${definition.uuid} (${sameUuid.definition.name}) is already running on ${context.host}`,
        );
      const qemu = await qemuVersion();
      if (qemu === 'unavailable')
        throw new VmigError(
          'HOST_UNSUITABLE',
          `${context.host} has no working ${qemuBinary()} (install QEMU there; check with: vmig host check)`,
        );
      const accel = await resolveAccel(options.accel, context.host);
      // The same argv Prepare would build: a definition QEMU cannot be given fails here, not mid-migration.
      qemuArgv({ ...definition, accel }, context.state.instancePaths(definition.name), {
        accel,
        incoming: true,
        paused: false,
      });
      // Prepare's image checks (directories, existing files, backing files, free space), which only read.
      let storage: DryStorage | undefined;
      if (copies.length > 0) {
        const { reuse, space } = await checkImages(copies, context.host);
        storage = {
          images: copies.map((copy) => ({
            target: copy.target,
            destinationPath: copy.destinationPath,
            action: reuse.has(copy.destinationPath) ? 'reuse' : 'create',
            neededBytes: copy.neededBytes,
          })),
          space,
        };
      }
      return {
        qemu,
        accel,
        memoryMiB: definition.memoryMiB,
        headroomMiB: config.memory_headroom_mib,
        ...(storage ? { storage } : {}),
      };
    },
  };
}
