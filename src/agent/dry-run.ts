// `vmig migrate --dry-run`, agent side: the checks of Begin (source) and Prepare (destination) without their
// effects: no lock, no journal entry, no QEMU. The controller adds the port and the transport probe.
import { parseDomain } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { qemuArgv } from '../qemu/argv.js';
import { qemuBinary, qemuVersion, resolveAccel } from '../qemu/process.js';
import type { HandlerGroup } from '../protocol/table.js';
import { migratableInstance } from './begin-checks.js';
import type { AgentContext } from './context.js';
import { readDefinition } from './domains.js';
import { loadHostConfig } from './host-config.js';
import { checkArrival } from './prepare-checks.js';

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
      return {
        definition: instance.definition,
        accel: instance.accel,
        state: qemuStatus,
        persistent: (await readDefinition(context, name)) !== undefined,
      };
    },

    /** Prepare's checks: the definition is valid here, its files exist, memory fits, the name and uuid are free, QEMU and the accelerator are there. */
    async 'migrate.dry-prepare'(options) {
      const definition = parseDomain(options.definition, 'definition received from the source');
      const config = await loadHostConfig();
      await checkArrival(context, definition, config, { forceDefinition: options.forceDefinition });
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
      return { qemu, accel, memoryMiB: definition.memoryMiB, headroomMiB: config.memory_headroom_mib };
    },
  };
}
