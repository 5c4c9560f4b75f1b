// tls, per stream:  client(SRC) ─unix─▶ pump(SRC) ══TLS 1.3, identity <migration id>/<stream>, PSK = streamKey══▶ pump(DST) ─unix─▶ server(DST)
// One TLS connection per stream of the set (streams.ts), one listener on the destination for all of them, and
// each stream pumped by a process of its own on either end (pumps.ts; the per-connection TLS is tls-stream.ts).
// No certificates: the one-time per-stream pre-shared key authenticates both ends, and OpenSSL's psk_dhe_ke mode
// adds an ephemeral X25519 key share, so a key that leaks later does not decrypt a recorded stream.
import { createServer, type Socket } from 'node:net';
import { hostForUri, type Cookie, type Endpoint } from './cookie.js';
import { AcceptanceSet } from './acceptance.js';
import { acceptEach, closeServer, closeUnixEnd, listenUnix, OpenSockets } from './listeners.js';
import { bindInRange } from './ports.js';
import { PumpProcesses } from './pumps.js';
import { STREAM_BUFFER_BYTES } from './splice.js';
import { streamKey, tlsIdentity } from './stream-keys.js';
import { isQemuMigrationStream, type IncomingStream, type OutgoingSocket, type StreamId } from './streams.js';
import type { StreamReport } from './tls-stream.js';
import { formatBytes } from '../util/format.js';
import { PENDING_CONNECTIONS, refusalLog, type TunnelEnd, type TunnelLog } from './tunnel.js';

export { certificateRefusal } from './tls-stream.js';

/** The log line of a stream that ended; `direction` is what the forward bytes did at this end. */
function closedLine(report: Extract<StreamReport, { type: 'closed' }>, migrationId: string, direction: 'in' | 'out') {
  return `tls stream ${report.stream} of migration ${migrationId} closed: ${formatBytes(report.forward)} ${direction}, ${formatBytes(report.backward)} back${report.error ? ` (${report.error})` : ''}`;
}

/**
 * Destination: one TCP listener on a free port of the range for the whole stream set. Each connection goes to a
 * pump, which completes the PSK handshake: the connection names its stream in the PSK identity and proves that
 * stream's key. A proven stream is claimed here (each stream id once, across the pumps and the other listener of
 * `auto`) and delivered to its socket; once the set is complete the listener closes. Failed handshakes never
 * reach a socket.
 */
export async function openTlsIncoming(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret' | 'expiresAt'>;
  streams: IncomingStream[];
  /** Shared with the other listener of an `auto` migration, so that a stream is taken once across both. */
  acceptance?: AcceptanceSet;
  listenHost: string;
  portRange: [number, number];
  log: TunnelLog;
}): Promise<{ endpoint: Endpoint; end: TunnelEnd; pumpPids: number[] }> {
  const { cookie, log } = options;
  const targets = new Map(options.streams.map((stream) => [stream.id, stream.socket]));
  const acceptance = options.acceptance ?? new AcceptanceSet([...targets.keys()]);
  const refusals = refusalLog(log);
  let stopped = false;
  // The socket is handed to a pump before a byte of it is read.
  const server = createServer({ pauseOnConnect: true });
  // QEMU 7.2 takes the first connection to its socket as the main channel (8.0 and later read each channel's
  // magic): the multifd streams wait until ram is delivered, whichever pump finishes its handshake first.
  let ramDelivered: () => void = () => undefined;
  const ramIn = new Promise<void>((resolve) => (ramDelivered = resolve));
  const waitsForRam = (stream: StreamId) => stream !== 'ram' && isQemuMigrationStream(stream) && targets.has('ram');
  const pumps = await PumpProcesses.start(targets.size, {
    report(_conn, report) {
      if (report.type === 'refused' && !stopped) refusals.refused(report.line);
      else if (report.type === 'log') log(report.line);
      else if (report.type === 'closed') log(closedLine(report, cookie.migrationId, 'in'));
      else if (report.type === 'delivered' && report.stream === 'ram') ramDelivered();
    },
    claim(_conn, stream) {
      const claim = stopped ? { ok: false as const, reason: 'the listener is closed' } : acceptance.claim(stream);
      if (!claim.ok) return { refused: claim.reason };
      pumps.broadcast({ type: 'taken', stream });
      if (claim.complete) void closeServer(server).then(refusals.flush);
      const answer = { socket: targets.get(stream)! };
      return waitsForRam(stream) ? ramIn.then(() => answer) : answer;
    },
    exited(how, conns) {
      if (!stopped && conns.length > 0)
        log(`tls listener of migration ${cookie.migrationId}: a stream pump died (${how}); its streams are broken`);
    },
  });
  pumps.broadcast({
    type: 'serve-in',
    spec: {
      migrationId: cookie.migrationId,
      expiresAt: cookie.expiresAt,
      keys: Object.fromEntries([...targets.keys()].map((id) => [id, streamKey(cookie, 'tls-psk', id).toString('hex')])),
    },
  });
  server.on('connection', (socket: Socket) => {
    // A bound on connections at once (proven or in handshake): a flood cannot exhaust the agent or its pumps.
    if (stopped || pumps.active >= targets.size + PENDING_CONNECTIONS) return void socket.destroy();
    pumps.hand({ type: 'accept-in' }, socket);
  });
  let endpoint: Endpoint;
  try {
    endpoint = await bindInRange(
      options.listenHost,
      options.portRange,
      (port) =>
        new Promise<Endpoint>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: options.listenHost, port, exclusive: true }, () => {
            server.off('error', reject);
            resolve({ host: options.listenHost, port });
          });
        }),
    );
  } catch (error) {
    await pumps.close();
    throw error;
  }
  server.on('error', (error) => log(`tls listener of migration ${cookie.migrationId}: ${error.message}`));
  return {
    endpoint,
    pumpPids: pumps.pids,
    end: {
      async close() {
        stopped = true;
        refusals.flush();
        if (server.listening) await closeServer(server);
        await pumps.close();
      },
    },
  };
}

/**
 * Source: a unix listener per outgoing socket; the k-th connection on it becomes its k-th stream and is carried
 * by that stream's pump over its own TLS connection to the endpoint. `failure()` says why a stream broke, for
 * the error message when QEMU reports the migration failed.
 */
export async function openTlsOutgoing(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret'>;
  endpoint: Endpoint;
  sockets: OutgoingSocket[];
  log: TunnelLog;
}): Promise<{ end: TunnelEnd; failure(): string | undefined; pumpPids: number[] }> {
  const { cookie, endpoint, log } = options;
  let failure: string | undefined;
  let stopped = false;
  const open = new OpenSockets();
  const where = `${hostForUri(endpoint.host)}:${endpoint.port}`;
  const streams = options.sockets.flatMap((socket) => socket.streams);
  const carried = new Map<number, StreamId>();
  const pumps = await PumpProcesses.start(streams.length, {
    report(_conn, report) {
      if (report.type === 'failure' && !stopped) failure ??= report.text;
      else if (report.type === 'log') log(report.line);
      else if (report.type === 'closed') log(closedLine(report, cookie.migrationId, 'out'));
    },
    exited(how, conns) {
      if (stopped || conns.length === 0) return;
      const names = conns.map((conn) => carried.get(conn)).join(', ');
      failure ??= `the pump of tls stream ${names} to ${where} died (${how})`;
      log(`tls stream ${names} of migration ${cookie.migrationId}: its pump died (${how})`);
    },
  });
  const carry = (client: Socket, stream: StreamId) => {
    const conn = pumps.hand(
      {
        type: 'carry-out',
        spec: {
          migrationId: cookie.migrationId,
          stream,
          host: endpoint.host,
          port: endpoint.port,
          where,
          identity: tlsIdentity(cookie.migrationId, stream),
          psk: streamKey(cookie, 'tls-psk', stream).toString('hex'),
        },
      },
      client,
      streams.indexOf(stream),
    );
    if (conn !== undefined) carried.set(conn, stream);
  };
  const servers = options.sockets.map((socket) => {
    // The socket is handed to the stream's pump before a byte of it is read.
    const server = createServer({ allowHalfOpen: true, highWaterMark: STREAM_BUFFER_BYTES, pauseOnConnect: true });
    acceptEach(server, open, socket.streams.length, (client, index) => carry(client, socket.streams[index]!));
    return server;
  });
  const paths = options.sockets.map((socket) => socket.path);
  try {
    for (const [i, server] of servers.entries()) await listenUnix(server, paths[i]!);
  } catch (error) {
    await closeUnixEnd(open, servers, paths);
    await pumps.close();
    throw error;
  }
  return {
    failure: () => failure,
    pumpPids: pumps.pids,
    end: {
      async close() {
        stopped = true;
        await closeUnixEnd(open, servers, paths);
        await pumps.close();
      },
    },
  };
}
