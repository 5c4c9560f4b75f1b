// Destination: opens what the requested transport needs and mints the cookie that names it and its stream set.
//   direct → QEMU itself listens on TCP;  tls / ssh / auto → QEMU listens on a private unix socket (in.sock,
//   in the 0700 instance directory) that only authenticated streams connect to (ram and multifd-<i>); extra
//   streams (disks) go to the sockets their caller names. See streams.ts for the whole API.
import { join } from 'node:path';
import { VmigError } from '../errors.js';
import type { QmpClient } from '../qemu/qmp.js';
import { AcceptanceSet } from './acceptance.js';
import { mintCookie, type Cookie, type TransportRequest } from './cookie.js';
import { openDirectIncoming, type IncomingCommand } from './direct.js';
import { openSshIncoming } from './ssh-relay.js';
import { checkStreamSet, migrationStreams, type IncomingStream } from './streams.js';
import { openTlsIncoming } from './tls.js';
import type { TunnelEnd, TunnelLog } from './tunnel.js';

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
  /** multifd channels (--parallel N): N streams more into QEMU's socket. */
  parallel?: number;
  /** Streams beyond QEMU's own (disks), each delivered to its socket. Tunnelled transports only. */
  streams?: IncomingStream[];
}): Promise<{ cookie: Cookie; ends: IncomingEnds }> {
  const { transport, migrationId, qmp, log } = options;
  const command = options.command ?? 'migrate-incoming';
  const qemuStreams = migrationStreams(options.parallel);
  if (transport === 'direct') {
    if (options.streams?.length)
      throw new VmigError('INTERNAL', "the direct transport carries no streams beyond QEMU's own");
    const endpoint = await openDirectIncoming(qmp, options.listenHost, options.portRange, command);
    return { cookie: mintCookie(migrationId, 'direct', endpoint, Date.now(), qemuStreams), ends: {} };
  }
  const qemuSocket = join(options.instanceDir, 'in.sock');
  const streams: IncomingStream[] = [
    ...qemuStreams.map((id) => ({ id, socket: qemuSocket })),
    ...(options.streams ?? []),
  ];
  const invalid = checkStreamSet(streams.map((stream) => stream.id));
  if (invalid) throw new VmigError('INTERNAL', `migration ${migrationId}: ${invalid}`);
  const cookie = mintCookie(
    migrationId,
    transport,
    undefined,
    Date.now(),
    streams.map((stream) => stream.id),
  );
  // One acceptance set for both listeners of `auto`: a stream is taken once, whichever way it comes.
  const acceptance = new AcceptanceSet(cookie.streams);
  await qmp.execute(command, { uri: `unix:${qemuSocket}` });
  const ends: IncomingEnds = {};
  try {
    if (transport === 'tls' || transport === 'auto') {
      try {
        const tls = await openTlsIncoming({
          cookie,
          streams,
          acceptance,
          listenHost: options.listenHost,
          portRange: options.portRange,
          log,
        });
        ends.tls = tls.end;
        cookie.endpoint = tls.endpoint;
      } catch (error) {
        // With auto, a host without a free port still migrates: over the SSH relay.
        if (transport === 'tls') throw error;
        log(
          `no TLS listener for migration ${migrationId} on ${options.listenHost}: ${(error as Error).message}; only the ssh relay is offered`,
        );
      }
    }
    if (transport === 'ssh' || transport === 'auto') {
      const socketPath = join(options.instanceDir, 'ssh.sock');
      ends.ssh = await openSshIncoming({ cookie, socketPath, streams, acceptance, log });
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
