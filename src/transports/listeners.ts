// The listening side of the tunnel ends: each listens for its streams, stops listening once it has them, and on
// close() destroys every socket it still has open, so that nothing outlives the migration.
import type { Server, Socket } from 'node:net';
import { unlinkIfPresent } from '../util/fs.js';

export const closeServer = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

/** Listens on a unix socket, replacing a socket file an earlier run left behind. */
export async function listenUnix(server: Server, path: string): Promise<void> {
  await unlinkIfPresent(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The sockets a tunnel end has open, each until it closes. */
export class OpenSockets {
  private readonly sockets = new Set<Socket>();

  add(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

/**
 * Hands the server's first `count` connections to `accept` (with their index) and then stops listening. A
 * connection beyond those, or one that slipped in before the listener closed, is destroyed: each stream has one peer.
 */
export function acceptEach(
  server: Server,
  open: OpenSockets,
  count: number,
  accept: (socket: Socket, index: number) => void,
): void {
  let taken = 0;
  server.on('connection', (socket: Socket) => {
    if (taken >= count) return void socket.destroy();
    const index = taken++;
    open.add(socket);
    if (taken === count) void closeServer(server);
    accept(socket, index);
  });
}

/** Ends a tunnel end that listens on unix sockets: its open sockets, its listeners, then its socket files. */
export async function closeUnixEnd(open: OpenSockets, servers: Server[], paths: string[]): Promise<void> {
  open.destroyAll();
  await Promise.all(servers.filter((server) => server.listening).map(closeServer));
  await Promise.all(paths.map(unlinkIfPresent));
}
