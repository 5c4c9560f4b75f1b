// The controller's ssh relay, per stream of the set:
//   client(SRC) ─unix─▶ sshd(SRC) ═[forwarded-streamlocal]═ controller ═[direct-streamlocal]═ sshd(DST) ─unix─▶ agent(DST)
// The controller listens on each source-side socket through its own SSH connection to the source (sshd's
// streamlocal-forward; a plain listener for `local`), so no agent process sits in the source half of the path.
// For every connection it opens a channel to the destination agent's socket, answers the challenge with the
// stream's own key (it carries the cookie anyway) and then only moves bytes.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AcceptConnection, Channel, RejectConnection, UNIXConnectionDetails } from 'ssh2';
import { VmigError } from '../errors.js';
import type { HostConnection } from '../hosts/connection.js';
import type { Cookie } from '../transports/cookie.js';
import { closeServer, listenUnix } from '../transports/listeners.js';
import { relayProvenStreams, type HostListener, type StreamRelay } from '../transports/prover-relay.js';
import { BUFFERED } from '../transports/splice.js';
import type { OutgoingSocket } from '../transports/streams.js';

export type { StreamRelay } from '../transports/prover-relay.js';

/** A stream to a unix socket on the host: a direct-streamlocal channel over SSH, or a plain connection for `local`. */
export function openHostSocket(host: HostConnection, path: string): Promise<Duplex> {
  const ssh = host.ssh;
  const refused = (error: Error) =>
    new VmigError(
      'MIGRATION_FAILED',
      `${host.label} refused the ssh relay's stream to its vmig socket (${error.message}); sshd must allow AllowStreamLocalForwarding`,
    );
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

/** Listens on `path` on the host (sshd streamlocal-forward, or a local server) and hands each connection over. */
export async function listenOnHost(
  host: HostConnection,
  path: string,
  onConnection: (stream: Duplex, reject: () => void) => void,
): Promise<HostListener> {
  const ssh = host.ssh;
  if (!ssh) {
    const server: Server = createServer({ allowHalfOpen: true, ...BUFFERED }, (socket: Socket) =>
      onConnection(socket, () => socket.destroy()),
    );
    await listenUnix(server, path);
    return { close: () => (server.listening ? closeServer(server) : Promise.resolve()) };
  }
  const onUnix = (info: UNIXConnectionDetails, accept: AcceptConnection<Channel>, reject: RejectConnection) => {
    if (info.socketPath !== path) return;
    onConnection(accept(), reject);
  };
  ssh.on('unix connection', onUnix);
  const refused = (error: Error) =>
    new VmigError(
      'MIGRATION_FAILED',
      `${host.label} refused to listen on ${path} for the ssh relay (${error.message}); sshd must allow AllowStreamLocalForwarding`,
    );
  try {
    await new Promise<void>((resolve, reject) => {
      ssh.openssh_forwardInStreamLocal(path, (error) => (error ? reject(refused(error)) : resolve()));
    });
  } catch (error) {
    ssh.off('unix connection', onUnix);
    throw error;
  }
  let closed = false;
  return {
    close: async () => {
      if (closed) return;
      closed = true;
      // sshd removes the socket file itself only with StreamLocalBindUnlink; the source agent clears it too.
      await new Promise<void>((resolve) => {
        try {
          ssh.openssh_unforwardInStreamLocal(path, () => resolve());
        } catch {
          resolve();
        }
      });
      ssh.off('unix connection', onUnix);
    },
  };
}

/** The controller's relay of the cookie's stream set, from the source host's sockets to the destination agent. */
export async function relayStreams(options: {
  source: HostConnection;
  destination: HostConnection;
  cookie: Cookie;
  sockets: OutgoingSocket[];
  log?: (line: string) => void;
}): Promise<StreamRelay> {
  const { source, destination, cookie } = options;
  const tunnelPath = cookie.socketPath;
  if (!tunnelPath) throw new VmigError('INTERNAL', 'the cookie names no destination socket for the ssh relay');
  return relayProvenStreams({
    cookie,
    sockets: options.sockets,
    listen: (path, onConnection) => listenOnHost(source, path, onConnection),
    connect: () => openHostSocket(destination, tunnelPath),
    ...(options.log ? { log: options.log } : {}),
  });
}
