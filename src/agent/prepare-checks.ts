// Prepare's checks on the destination, shared by the real Prepare (agent/destination.ts) and the dry run
// (agent/dry-run.ts): the host policy accepts the definition, its files are here, memory fits, the name is free
// and a stored definition of that name agrees. All run before anything is created on this host.
import { access, constants, readFile } from 'node:fs/promises';
import { requiredPaths, type DomainDefinition } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import type { AgentContext } from './context.js';
import type { HostConfig } from './host-config.js';
import { checkIncomingPolicy, checkStoredDefinition } from './incoming-check.js';

/** Whether this host can run the guest: its files at the same paths, memory beyond the headroom, host.toml's limit. */
/** `copied`: disk paths a storage migration creates here (so they need not exist yet). */
export async function checkHostCanRun(
  context: AgentContext,
  definition: DomainDefinition,
  config: HostConfig,
  copied: string[] = [],
): Promise<void> {
  const { instances } = context;
  for (const path of requiredPaths(definition).filter((path) => !copied.includes(path))) {
    try {
      await access(path, constants.R_OK);
    } catch {
      throw new VmigError(
        'HOST_UNSUITABLE',
        `${context.host} lacks ${path}, which domain ${definition.name} needs (kernel, initrd and disks must exist at the same paths on both hosts)`,
      );
    }
  }
  const meminfo = await readFile('/proc/meminfo', 'utf8');
  const available = Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0) * 1024;
  const needed = (definition.memoryMiB + config.memory_headroom_mib) * 1024 * 1024;
  if (available > 0 && available < needed) {
    throw new VmigError(
      'HOST_UNSUITABLE',
      `${context.host} has ${Math.floor(available / 1048576)} MiB available, domain ${definition.name} needs ${definition.memoryMiB} MiB plus ${config.memory_headroom_mib} MiB headroom`,
    );
  }
  if (config.guest_memory_limit_mib !== undefined) {
    const committed = (await instances.all()).reduce((sum, instance) => sum + instance.definition.memoryMiB, 0);
    if (committed + definition.memoryMiB > config.guest_memory_limit_mib) {
      throw new VmigError(
        'HOST_UNSUITABLE',
        `${context.host} lacks memory for ${definition.name}: its guests use ${committed} of ${config.guest_memory_limit_mib} MiB, ${definition.name} needs ${definition.memoryMiB} MiB`,
      );
    }
  }
}

/** Every check of Prepare, in its order; `copied`: disk paths a storage migration creates here. */
export async function checkArrival(
  context: AgentContext,
  definition: DomainDefinition,
  config: HostConfig,
  options: { forceDefinition: boolean; copied?: string[] },
): Promise<void> {
  await checkIncomingPolicy(context, definition, config);
  await checkHostCanRun(context, definition, config, options.copied);
  if (await context.instances.find(definition.name))
    throw new VmigError('DOMAIN_RUNNING', `domain ${definition.name} is already running on ${context.host}`);
  await checkStoredDefinition(context, definition, options.forceDefinition);
}
