// The agent's handler table: one handler per method of src/protocol/methods.ts, gathered from the module of
// each concern. tsc checks it is complete; dispatchTable() parses each call's params before its handler runs.
import { hostname } from 'node:os';
import { VmigError } from '../errors.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import type { AgentHandlers, HandlerGroup, MethodHandler } from '../protocol/table.js';
import { qemuVersion } from '../qemu/process.js';
import { VERSION } from '../version.js';
import type { AgentContext } from './context.js';
import { destinationHandlers } from './destination.js';
import { domainHandlers } from './domains.js';
import { dryRunHandlers } from './dry-run.js';
import { evacuationHandlers } from './evacuation.js';
import type { HostCheckMethod } from './host-checks.js';
import { jobHandlers } from './jobs.js';
import type { MigrationRegistry } from './migration-state.js';
import { postcopyRecoveryHandlers } from './postcopy-recovery.js';
import { recoverHandlers } from './recover.js';
import { sourceHandlers } from './source.js';
import { storageFactHandlers } from './storage-facts.js';

function hello(context: AgentContext): MethodHandler<'hello'> {
  return async ({ protocol, label }) => {
    // Name this host in messages the way the operator named it (namespaces and clones share a hostname).
    if (typeof label === 'string' && label.length > 0 && label.length < 256) context.host = label;
    if (protocol !== PROTOCOL_VERSION) {
      throw new VmigError(
        'PROTOCOL_MISMATCH',
        `vmig ${VERSION} on ${context.host} speaks agent protocol ${PROTOCOL_VERSION}, the controller speaks ${String(protocol)}; install the same vmig version on both`,
      );
    }
    await context.state.ensure();
    context.hostId = await context.state.hostId();
    return {
      protocol: PROTOCOL_VERSION,
      version: VERSION,
      hostname: hostname(),
      pid: process.pid,
      stateDir: context.state.root,
      hostId: context.hostId,
      qemu: await qemuVersion(),
    };
  };
}

/** `hostChecks` own listeners that the agent closes at the session's end (hostCheckHandlers().closeAll). */
export function agentHandlers(
  context: AgentContext,
  registry: MigrationRegistry,
  hostChecks: HandlerGroup<HostCheckMethod>,
): AgentHandlers {
  return {
    hello: hello(context),
    ping: async () => ({}),
    ...hostChecks,
    ...dryRunHandlers(context),
    ...domainHandlers(context),
    ...sourceHandlers(context, registry),
    ...destinationHandlers(context, registry),
    ...jobHandlers(context),
    ...evacuationHandlers(context),
    ...recoverHandlers(context),
    ...postcopyRecoveryHandlers(context),
    ...storageFactHandlers(context),
  };
}
