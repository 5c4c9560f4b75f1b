// Begin's checks on the source, shared by the real Begin (agent/source.ts) and the dry run (agent/dry-run.ts):
// the domain runs here, is not itself still arriving, and QEMU says it is running or paused.
import { assertDomainName } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import type { AgentContext } from './context.js';
import { readDefinition } from './domains.js';
import type { Instance } from './instances.js';

export async function migratableInstance(
  context: AgentContext,
  name: string,
): Promise<{ instance: Instance; qemuStatus: string }> {
  assertDomainName(name);
  const instance = await context.instances.find(name);
  if (!instance) {
    const defined = await readDefinition(context, name);
    throw new VmigError(
      defined ? 'DOMAIN_NOT_RUNNING' : 'DOMAIN_NOT_FOUND',
      defined ? `domain ${name} is not running on ${context.host}` : `domain ${name} does not exist on ${context.host}`,
    );
  }
  if (instance.incomingMigrationId)
    throw new VmigError(
      'DOMAIN_NOT_RUNNING',
      `domain ${name} on ${context.host} is itself still arriving from a migration`,
    );
  const { qemuStatus } = await context.instances.status(instance);
  if (qemuStatus !== 'running' && qemuStatus !== 'paused')
    throw new VmigError(
      'DOMAIN_NOT_RUNNING',
      `domain ${name} on ${context.host} is ${qemuStatus}, not running or paused`,
    );
  return { instance, qemuStatus };
}
