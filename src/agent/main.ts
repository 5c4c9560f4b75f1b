// `vmig agent`: serves one controller over stdin/stdout until the controller goes away, then acts alone on
// whatever migration it was part of (see abandonSource / abandonDestination).
import { appendFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RpcConnection } from '../protocol/rpc.js';
import { dispatchTable } from '../protocol/table.js';
import type { AgentContext } from './context.js';
import { abandonDestination } from './destination.js';
import { agentHandlers } from './handlers.js';
import { hostCheckHandlers } from './host-checks.js';
import { Instances } from './instances.js';
import { Journal } from './journal.js';
import { Locks } from './locks.js';
import { MigrationRegistry } from './migration-state.js';
import { abandonSource } from './source.js';
import { StateDir } from './state.js';

/** SSH_CONNECTION is "client_ip client_port server_ip server_port": the server_ip is where the controller reached us. */
export function arrivalAddress(env: NodeJS.ProcessEnv): string | undefined {
  const fields = env.SSH_CONNECTION?.trim().split(/\s+/);
  return fields && fields.length === 4 ? fields[2] : undefined;
}

export async function runAgent(): Promise<void> {
  const state = StateDir.fromEnv();
  const host = process.env.VMIG_HOST_LABEL || hostname();
  const logFile = join(state.root, 'agent.log');
  const log = (message: string) => {
    const line = `${new Date().toISOString()} [${process.pid}] ${message}\n`;
    process.stderr.write(line);
    void appendFile(logFile, line, { mode: 0o600 }).catch(() => undefined);
  };
  await state.ensure().catch(() => undefined);
  const registry = new MigrationRegistry();
  let rpc: RpcConnection | undefined;
  const context: AgentContext = {
    state,
    instances: new Instances(state, () => context.host, log),
    locks: new Locks(state, () => context.host),
    journal: new Journal(state),
    host,
    hostId: '',
    arrivalAddress: arrivalAddress(process.env),
    emit: (event, data) => rpc?.emit(event, data),
    log,
  };

  const hostChecks = hostCheckHandlers(context);
  const handlers = dispatchTable(agentHandlers(context, registry, hostChecks.handlers));

  // Once the controller's channel is gone, writes to it fail with EPIPE: that must not kill the agent
  // before it has put its migrations in a safe state (the log file still records everything).
  process.stdout.on('error', () => rpc?.close());
  process.stderr.on('error', () => undefined);
  // Signals go to the controller; the agent ends when its input does, after putting its migrations in a safe state.
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.on('SIGPIPE', () => undefined);

  // The controller pings every few seconds. A link that dies without a FIN (a pulled cable) would otherwise
  // leave this agent waiting forever while its half of a migration holds a guest.
  const idleTimeoutMs = Number(process.env.VMIG_AGENT_IDLE_TIMEOUT_MS) || 30_000;
  let lastHeard = Date.now();
  process.stdin.on('data', () => {
    lastHeard = Date.now();
  });
  await new Promise<void>((resolve) => {
    rpc = new RpcConnection(process.stdin, process.stdout, {
      peer: 'controller',
      handlers,
      opening: 'hello',
      onClose: () => resolve(),
    });
    process.on('SIGTERM', () => rpc?.close());
    const watchdog = setInterval(() => {
      if (Date.now() - lastHeard > idleTimeoutMs) {
        log(`controller silent for ${Math.round(idleTimeoutMs / 1000)} s: treating it as gone`);
        rpc?.close();
      }
    }, 1_000);
    watchdog.unref();
  });

  // A Prepare or Begin still running when the controller vanished registers its migration when it ends:
  // wait for it, or its half-started QEMU or lock would be left for nobody.
  await rpc?.drain(120_000);
  await hostChecks.closeAll();
  for (const migration of registry.all()) {
    try {
      if (migration.role === 'source') await abandonSource(context, registry, migration);
      else await abandonDestination(context, registry, migration);
    } catch (error) {
      log(`cleanup of migration ${migration.migrationId} failed: ${(error as Error).message}`);
    }
  }
}
