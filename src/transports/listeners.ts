// The listening side of the tunnel ends: each listens for one stream, stops listening once it has it, and on
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
 * Hands the server's first connection to `accept` and stops listening. A connection that slipped in before the
 * listener closed is destroyed: only one peer may ever own the stream.
 */
export function acceptOne(server: Server, open: OpenSockets, accept: (socket: Socket) => void): void {
  let taken = false;
  server.on('connection', (socket: Socket) => {
    if (taken) return void socket.destroy();
    taken = true;
    open.add(socket);
    void closeServer(server);
    accept(socket);
  });
}

/** Ends a tunnel end that listens on unix sockets: its open sockets, its listeners, then its socket files. */
export async function closeUnixEnd(open: OpenSockets, servers: Server[], paths: string[]): Promise<void> {
  open.destroyAll();
  await Promise.all(servers.filter((server) => server.listening).map(closeServer));
  await Promise.all(paths.map(unlinkIfPresent));
}
