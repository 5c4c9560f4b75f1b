// ssh:  qemu(SRC) ─unix─▶ agent(SRC) ─unix─ [SSH channel] ─ controller ─ [SSH channel] ─unix─▶ agent(DST) ─unix─▶ qemu(DST)
// No port between the hosts and no credentials for each other: the stream rides direct-streamlocal channels of
// the SSH connections the controller already holds. The source opens the stream with a header line proving
// the cookie (stream-header.ts); the destination checks it before QEMU sees a byte.
import { createConnection, createServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { VmigError } from '../errors.js';
import type { HostConnection } from '../hosts/connection.js';
import type { Cookie } from './cookie.js';
import { acceptOne, closeServer, closeUnixEnd, listenUnix, OpenSockets } from './listeners.js';
import { checkHeader, scanHeader, streamHeader } from './stream-header.js';
import { BUFFERED, splice, STREAM_BUFFER_BYTES, type SpliceResult } from './splice.js';
import { HANDSHAKE_TIMEOUT_MS, type TunnelEnd, type TunnelLog } from './tls.js';

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

/** Destination: the unix socket the relay attaches to. One stream with a valid header reaches QEMU; others are dropped. */
export async function openSshIncoming(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret' | 'expiresAt'>;
  socketPath: string;
  qemuSocket: string;
  log: TunnelLog;
}): Promise<TunnelEnd> {
  const { cookie, log } = options;
  let accepted = false;
  let stopped = false;
  const open = new OpenSockets();
  const refuse = (socket: Socket, reason: string) => {
    if (!stopped) log(`ssh tunnel of migration ${cookie.migrationId}: refused a stream (${reason})`);
    socket.destroy();
  };
  const server = createServer({ allowHalfOpen: true, highWaterMark: STREAM_BUFFER_BYTES }, (peer) => {
    open.add(peer);
    if (accepted) return refuse(peer, 'the migration already has its stream');
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => refuse(peer, `no header within ${HANDSHAKE_TIMEOUT_MS / 1000} s`), HANDSHAKE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const scan = scanHeader(buffered);
      if (scan.kind === 'incomplete') return;
      clearTimeout(timer);
      peer.off('data', onData);
      peer.pause();
      if (scan.kind === 'too-long') return refuse(peer, 'not a vmig stream header');
      const verdict = checkHeader(scan.line, cookie);
      if (!verdict.ok) return refuse(peer, verdict.reason);
      if (accepted) return refuse(peer, 'the migration already has its stream');
      accepted = true;
      void closeServer(server);
      if (scan.rest.length > 0) peer.unshift(scan.rest);
      const qemu = createConnection({ path: options.qemuSocket, allowHalfOpen: true, ...BUFFERED });
      open.add(qemu);
      qemu.once('connect', () => {
        log(`ssh tunnel of migration ${cookie.migrationId}: stream authenticated, streaming into QEMU`);
        void splice(peer, qemu).done.then(({ forward, backward, error }) => {
          log(`ssh tunnel of migration ${cookie.migrationId} closed: ${mib(forward)} in, ${mib(backward)} back${error && !stopped ? ` (${error.message})` : ''}`);
        });
      });
      qemu.once('error', (error) => {
        log(`ssh tunnel of migration ${cookie.migrationId}: QEMU's incoming socket failed: ${error.message}`);
        peer.destroy();
      });
    };
    peer.on('data', onData);
    peer.on('error', () => clearTimeout(timer));
    peer.once('close', () => clearTimeout(timer));
  });
  await listenUnix(server, options.socketPath);
  return {
    async close() {
      stopped = true;
      await closeUnixEnd(open, [server], [options.socketPath]);
    },
  };
}

/**
 * Source: QEMU's outgoing stream arrives on `outPath`, the controller's relay on `relayPath`. The relay gets
 * the header at once; once both are connected, QEMU's bytes follow it.
 */
export async function openSshOutgoing(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret'>;
  outPath: string;
  relayPath: string;
  log: TunnelLog;
}): Promise<{ uri: string; end: TunnelEnd; failure(): string | undefined }> {
  const { cookie, log } = options;
  let stopped = false;
  let failure: string | undefined;
  let qemu: Socket | undefined;
  let relay: Socket | undefined;
  const open = new OpenSockets();
  const join = () => {
    if (!qemu || !relay) return;
    const relayed = relay;
    void splice(qemu, relayed).done.then(({ forward, backward, error }) => {
      if (error && !stopped) failure ??= `the ssh relay broke: ${error.message}`;
      log(`ssh tunnel of migration ${cookie.migrationId} closed: ${mib(forward)} out, ${mib(backward)} back`);
    });
  };
  const outServer = createServer({ allowHalfOpen: true, highWaterMark: STREAM_BUFFER_BYTES });
  acceptOne(outServer, open, (socket) => {
    qemu = socket;
    socket.pause();
    socket.once('error', (error) => {
      if (!stopped) failure ??= `QEMU's outgoing socket failed: ${error.message}`;
    });
    join();
  });
  const relayServer = createServer({ allowHalfOpen: true, highWaterMark: STREAM_BUFFER_BYTES });
  acceptOne(relayServer, open, (socket) => {
    relay = socket;
    socket.once('error', (error) => {
      if (!stopped) failure ??= `the ssh relay failed: ${error.message}`;
      qemu?.destroy();
    });
    socket.once('close', () => {
      if (!stopped && !qemu) failure ??= 'the ssh relay closed before QEMU connected';
    });
    socket.write(streamHeader(cookie));
    log(`ssh tunnel of migration ${cookie.migrationId}: relay attached`);
    join();
  });
  await listenUnix(outServer, options.outPath);
  await listenUnix(relayServer, options.relayPath);
  return {
    uri: `unix:${options.outPath}`,
    failure: () => failure,
    end: {
      async close() {
        stopped = true;
        await closeUnixEnd(open, [outServer, relayServer], [options.outPath, options.relayPath]);
      },
    },
  };
}

/** A stream to a unix socket on the host: a direct-streamlocal channel over SSH, or a plain connection for `local`. */
export function openHostSocket(host: HostConnection, path: string): Promise<Duplex> {
  const ssh = host.ssh;
  const refused = (error: Error) =>
    new VmigError('MIGRATION_FAILED', `${host.label} refused the ssh relay's stream to its vmig socket (${error.message}); sshd must allow AllowStreamLocalForwarding`);
  if (!ssh) {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path, allowHalfOpen: true, ...BUFFERED });
      const onError = (error: Error) => reject(refused(error));
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(socket);
      });
      socket.once('error', onError);
    });
  }
  return new Promise((resolve, reject) => {
    try {
      ssh.openssh_forwardOutStreamLocal(path, (error, channel) => (error ? reject(refused(error)) : resolve(channel)));
    } catch (error) {
      reject(refused(error as Error));
    }
  });
}

export interface ControllerRelay {
  readonly done: Promise<SpliceResult>;
  close(): void;
}

/** Controller: joins the source agent's relay socket to the destination agent's tunnel socket. */
export async function relayBetween(source: HostConnection, relayPath: string, destination: HostConnection, tunnelPath: string): Promise<ControllerRelay> {
  // Destination first: the source writes its header as soon as the relay attaches.
  const toDestination = await openHostSocket(destination, tunnelPath);
  let fromSource: Duplex;
  try {
    fromSource = await openHostSocket(source, relayPath);
  } catch (error) {
    toDestination.destroy();
    throw error;
  }
  const joined = splice(fromSource, toDestination);
  return { done: joined.done, close: () => joined.destroy() };
}
