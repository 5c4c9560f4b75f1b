// Source: where the local clients of each stream connect for the cookie's transport. direct → QEMU connects to
// the destination's TCP endpoint itself; tls → this agent listens on each stream's unix socket (in the 0700
// instance directory) and carries each connection over its own TLS connection; ssh → the controller listens on
// those sockets through the SSH connection it holds (controller/stream-relay.ts): this agent only clears them;
// ssh with p2p → this host's own ssh carries them (p2p.ts).
import { VmigError } from '../errors.js';
import { unlinkIfPresent } from '../util/fs.js';
import type { Cookie } from './cookie.js';
import { openP2pOutgoing, type P2pTarget } from './p2p.js';
import { outgoingSockets, sourceSocketOf, type OutgoingSocket, type StreamId } from './streams.js';
import { openTlsOutgoing } from './tls.js';
import type { TunnelEnd, TunnelLog } from './tunnel.js';

export interface OutgoingTunnel {
  transport: 'tls' | 'ssh';
  /** QEMU's `migrate` URI: ram and every multifd channel connect there. */
  uri: string;
  /** Each source-side socket with the streams it takes, in order (for the controller's ssh relay). */
  sockets: OutgoingSocket[];
  /** The unix socket a stream's local client connects to (e.g. QEMU's NBD client for disk-<name>). */
  socketOf(stream: StreamId): string;
  failure(): string | undefined;
  end: TunnelEnd;
  /** ssh only: this host carries the streams itself (p2p); the controller must not relay them. */
  p2p?: boolean;
}

/** p2p: the destination as this host's own `ssh` reaches it. */
export interface P2pOptions {
  target: P2pTarget;
  sshConfig?: string;
  sourceLabel: string;
}

export async function openOutgoing(
  cookie: Cookie,
  instanceDir: string,
  log: TunnelLog,
  p2p?: P2pOptions,
): Promise<OutgoingTunnel> {
  const sockets = outgoingSockets(instanceDir, cookie.streams);
  const socketOf = (stream: StreamId) => {
    if (!cookie.streams.includes(stream))
      throw new VmigError('INTERNAL', `migration ${cookie.migrationId} has no stream ${stream}`);
    return sourceSocketOf(instanceDir, stream);
  };
  const uri = `unix:${sourceSocketOf(instanceDir, 'ram')}`;
  if (cookie.transport === 'tls') {
    if (!cookie.endpoint)
      throw new VmigError('COOKIE_REJECTED', `the cookie of migration ${cookie.migrationId} names no TLS endpoint`);
    const tunnel = await openTlsOutgoing({ cookie, endpoint: cookie.endpoint, sockets, log });
    return { transport: 'tls', uri, sockets, socketOf, ...tunnel };
  }
  if (cookie.transport === 'ssh' && p2p) {
    const tunnel = await openP2pOutgoing({ cookie, sockets, instanceDir, log, ...p2p });
    return { transport: 'ssh', uri, sockets, socketOf, p2p: true, ...tunnel };
  }
  if (cookie.transport === 'ssh') {
    // sshd creates these sockets for the controller; one left by an earlier run would make it refuse.
    const clear = () => Promise.all(sockets.map((socket) => unlinkIfPresent(socket.path))).then(() => undefined);
    await clear();
    return { transport: 'ssh', uri, sockets, socketOf, failure: () => undefined, end: { close: clear } };
  }
  throw new VmigError('INTERNAL', `migration ${cookie.migrationId}: no tunnel for transport ${cookie.transport}`);
}
