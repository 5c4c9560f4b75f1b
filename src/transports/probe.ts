// Can this host open a TCP connection to the destination's TLS endpoint? Run on the source for `auto`.
// Only a connect: the listener accepts a single authenticated connection, which belongs to the migration.
import { connect } from 'node:net';
import { hostForUri, type Endpoint } from './cookie.js';

export const PROBE_TIMEOUT_MS = 2_000;

export type ProbeResult = { reachable: true } | { reachable: false; reason: string };

export function probeTcp(endpoint: Endpoint, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const done = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        done({
          reachable: false,
          reason: `no answer from ${hostForUri(endpoint.host)}:${endpoint.port} within ${timeoutMs / 1000} s`,
        }),
      timeoutMs,
    );
    socket.once('connect', () => done({ reachable: true }));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done({
        reachable: false,
        reason: `${hostForUri(endpoint.host)}:${endpoint.port}: ${error.code === 'ECONNREFUSED' ? 'connection refused' : error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH' ? 'no route to host' : error.message}`,
      }),
    );
  });
}
