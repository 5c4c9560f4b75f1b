// Destination: opens what the requested transport needs and mints the cookie that names it.
//   direct → QEMU itself listens on TCP;  tls / ssh / auto → QEMU listens on a private unix socket (in.sock,
//   in the 0700 instance directory) that only an authenticated tunnel connects to.
import { join } from 'node:path';
import type { QmpClient } from '../qemu/qmp.js';
import { mintCookie, type Cookie, type TransportRequest } from './cookie.js';
import { openDirectIncoming, type IncomingCommand } from './direct.js';
import { openSshIncoming } from './ssh-relay.js';
import { openTlsIncoming, type TunnelEnd, type TunnelLog } from './tls.js';

export type IncomingEnds = Partial<Record<'tls' | 'ssh', TunnelEnd>>;

export async function openIncoming(options: {
  transport: TransportRequest;
  migrationId: string;
  qmp: QmpClient;
  /** The receiving QEMU's run directory (0700). */
  instanceDir: string;
  listenHost: string;
  portRange: [number, number];
  log: TunnelLog;
  /** migrate-recover: the listener resumes a paused post-copy stream instead of taking a new one. */
  command?: IncomingCommand;
}): Promise<{ cookie: Cookie; ends: IncomingEnds }> {
  const { transport, migrationId, qmp, log } = options;
  const command = options.command ?? 'migrate-incoming';
  if (transport === 'direct') {
    const endpoint = await openDirectIncoming(qmp, options.listenHost, options.portRange, command);
    return { cookie: mintCookie(migrationId, 'direct', endpoint), ends: {} };
  }
  const cookie = mintCookie(migrationId, transport, undefined);
  const qemuSocket = join(options.instanceDir, 'in.sock');
  await qmp.execute(command, { uri: `unix:${qemuSocket}` });
  const ends: IncomingEnds = {};
  try {
    if (transport === 'tls' || transport === 'auto') {
      try {
        const tls = await openTlsIncoming({ cookie, listenHost: options.listenHost, portRange: options.portRange, qemuSocket, log });
        ends.tls = tls.end;
        cookie.endpoint = tls.endpoint;
      } catch (error) {
        // With auto, a host without a free port still migrates: over the SSH relay.
        if (transport === 'tls') throw error;
        log(`no TLS listener for migration ${migrationId} on ${options.listenHost}: ${(error as Error).message}; only the ssh relay is offered`);
      }
    }
    if (transport === 'ssh' || transport === 'auto') {
      const socketPath = join(options.instanceDir, 'ssh.sock');
      ends.ssh = await openSshIncoming({ cookie, socketPath, qemuSocket, log });
      cookie.socketPath = socketPath;
    }
  } catch (error) {
    await closeEnds(ends);
    throw error;
  }
  return { cookie, ends };
}

export async function closeEnds(ends: IncomingEnds, keep?: 'tls' | 'ssh'): Promise<void> {
  for (const name of ['tls', 'ssh'] as const) {
    if (name === keep) continue;
    await ends[name]?.close().catch(() => undefined);
    delete ends[name];
  }
}
