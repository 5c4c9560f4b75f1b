// Source: where QEMU sends its stream for the cookie's transport. direct → the destination's TCP endpoint;
// tls / ssh → a private unix socket (out.sock, in the 0700 instance directory) that the agent tunnels onwards.
import { join } from 'node:path';
import { VmigError } from '../errors.js';
import type { Cookie } from './cookie.js';
import { openSshOutgoing } from './ssh-relay.js';
import { openTlsOutgoing, type TunnelEnd, type TunnelLog } from './tls.js';

export interface OutgoingTunnel {
  transport: 'tls' | 'ssh';
  uri: string;
  /** ssh: the socket the controller's relay attaches to. */
  relaySocket?: string;
  failure(): string | undefined;
  end: TunnelEnd;
}

export async function openOutgoing(cookie: Cookie, instanceDir: string, log: TunnelLog): Promise<OutgoingTunnel> {
  const outPath = join(instanceDir, 'out.sock');
  if (cookie.transport === 'tls') {
    if (!cookie.endpoint) throw new VmigError('COOKIE_REJECTED', `the cookie of migration ${cookie.migrationId} names no TLS endpoint`);
    const tunnel = await openTlsOutgoing({ cookie, endpoint: cookie.endpoint, socketPath: outPath, log });
    return { transport: 'tls', ...tunnel };
  }
  if (cookie.transport === 'ssh') {
    const relaySocket = join(instanceDir, 'ssh.sock');
    const tunnel = await openSshOutgoing({ cookie, outPath, relayPath: relaySocket, log });
    return { transport: 'ssh', relaySocket, ...tunnel };
  }
  throw new VmigError('INTERNAL', `migration ${cookie.migrationId}: no tunnel for transport ${cookie.transport}`);
}
