// tls, per stream:  client(SRC) ─unix─▶ agent(SRC) ══TLS 1.3, identity <migration id>/<stream>, PSK = streamKey══▶ agent(DST) ─unix─▶ server(DST)
// One TLS connection per stream of the set (streams.ts), one listener on the destination for all of them.
// No certificates: the one-time per-stream pre-shared key authenticates both ends, and OpenSSL's psk_dhe_ke mode
// adds an ephemeral X25519 key share, so a key that leaks later does not decrypt a recorded stream.
import { createConnection, createServer, type Socket } from 'node:net';
import tls from 'node:tls';
import { hostForUri, type Cookie, type Endpoint } from './cookie.js';
import { AcceptanceSet } from './acceptance.js';
import { acceptEach, closeServer, closeUnixEnd, listenUnix, OpenSockets } from './listeners.js';
import { bindInRange } from './ports.js';
import { BUFFERED, splice, STREAM_BUFFER_BYTES } from './splice.js';
import { streamKey, streamOfIdentity, tlsIdentity } from './stream-keys.js';
import type { IncomingStream, OutgoingSocket, StreamId } from './streams.js';
import { formatBytes } from '../util/format.js';
import { HANDSHAKE_TIMEOUT_MS, PENDING_CONNECTIONS, refusalLog, type TunnelEnd, type TunnelLog } from './tunnel.js';

/** TLS 1.3 with a PSK needs a SHA-256 suite (the PSK's hash); AES-GCM first for AES-NI hosts. */
const TLS_OPTIONS = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',
} as const;
/**
 * The only proof a destination can give is the one-time PSK. A server that ignores the offered PSK and presents a
 * certificate instead (any certificate, even one a CA in the trust store or NODE_EXTRA_CA_CERTS vouches for) is not
 * the destination: no CA store, and any certificate fails the identity check, so the handshake is aborted.
 */
const PSK_ONLY_CLIENT = {
  ca: [] as string[],
  rejectUnauthorized: true,
  checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => {
    const refusal = certificateRefusal(cert);
    return refusal ? new Error(refusal) : undefined;
  },
};

/** Why a handshake that shows a certificate is refused; undefined for a PSK handshake (TLS 1.3: no certificate). */
export function certificateRefusal(
  cert: tls.PeerCertificate | Record<string, never> | null | undefined,
): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const subject = (cert as tls.PeerCertificate).subject?.CN;
  return `presented a certificate${subject ? ` for ${subject}` : ''} instead of proving the migration's one-time key: refused, nothing was sent`;
}

/**
 * Destination: one TLS listener on a free port of the range for the whole stream set. Each connection names its
 * stream in the PSK identity and proves that stream's key; a proven stream is delivered to its socket. A stream
 * id is taken once; once the set is complete the listener closes. Failed handshakes never reach a socket.
 */
export async function openTlsIncoming(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret' | 'expiresAt'>;
  streams: IncomingStream[];
  /** Shared with the other listener of an `auto` migration, so that a stream is taken once across both. */
  acceptance?: AcceptanceSet;
  listenHost: string;
  portRange: [number, number];
  log: TunnelLog;
}): Promise<{ endpoint: Endpoint; end: TunnelEnd }> {
  const { cookie, log } = options;
  const targets = new Map(options.streams.map((stream) => [stream.id, stream.socket]));
  const acceptance = options.acceptance ?? new AcceptanceSet([...targets.keys()]);
  const named = new WeakMap<object, StreamId>();
  const refusals = refusalLog(log);
  let stopped = false;
  const open = new OpenSockets();
  const server = tls.createServer({
    ...TLS_OPTIONS,
    allowHalfOpen: true,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    // Returning null fails the handshake: an unknown or taken stream, a wrong key, an expired cookie all look the
    // same to the peer. The key itself is checked by TLS (the PSK binder); the stream is claimed once proven.
    pskCallback: (socket, identity) => {
      const stream = streamOfIdentity(identity, cookie.migrationId);
      if (!stream || !acceptance.offer(stream).ok || Date.now() > cookie.expiresAt) return null;
      named.set(socket, stream);
      return streamKey(cookie, 'tls-psk', stream);
    },
  });
  // A bound on connections at once (proven or in handshake): a flood cannot exhaust the agent.
  server.maxConnections = targets.size + PENDING_CONNECTIONS;
  // Every raw connection, so that closing does not wait for a handshake in progress to time out.
  server.on('connection', (socket: Socket) => open.add(socket));
  server.on('tlsClientError', (error, socket) => {
    if (!stopped)
      refusals.refused(
        `tls listener of migration ${cookie.migrationId}: refused a connection from ${socket.remoteAddress ?? 'unknown'} (${(error as NodeJS.ErrnoException).code ?? error.message})`,
      );
    socket.destroy();
  });
  server.on('secureConnection', (peer) => {
    const stream = named.get(peer);
    // Two handshakes for one stream may finish together: only the first is the stream.
    const claim = stream && !stopped ? acceptance.claim(stream) : { ok: false as const, reason: 'no stream named' };
    if (!stream || !claim.ok) {
      if (!stopped)
        refusals.refused(
          `tls listener of migration ${cookie.migrationId}: refused a connection from ${peer.remoteAddress ?? 'unknown'} (${claim.ok ? '' : claim.reason})`,
        );
      peer.destroy();
      return;
    }
    if (claim.complete) void closeServer(server).then(refusals.flush);
    const target = createConnection({ path: targets.get(stream)!, allowHalfOpen: true, ...BUFFERED });
    open.add(target);
    target.once('connect', () => {
      log(
        `tls stream ${stream} of migration ${cookie.migrationId}: ${peer.remoteAddress ?? 'peer'} authenticated, streaming in`,
      );
      void splice(peer, target).done.then(({ forward, backward, error }) => {
        log(
          `tls stream ${stream} of migration ${cookie.migrationId} closed: ${formatBytes(forward)} in, ${formatBytes(backward)} back${error && !stopped ? ` (${error.message})` : ''}`,
        );
      });
    });
    target.once('error', (error) => {
      log(`tls stream ${stream} of migration ${cookie.migrationId}: its destination socket failed: ${error.message}`);
      peer.destroy();
    });
  });
  const endpoint = await bindInRange(
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
  server.on('error', (error) => log(`tls listener of migration ${cookie.migrationId}: ${error.message}`));
  return {
    endpoint,
    end: {
      async close() {
        stopped = true;
        refusals.flush();
        open.destroyAll();
        if (server.listening) await closeServer(server);
      },
    },
  };
}

/**
 * Source: a unix listener per outgoing socket; the k-th connection on it becomes its k-th stream and is carried
 * over its own TLS connection to the endpoint. `failure()` says why a stream broke, for the error message when
 * QEMU reports the migration failed.
 */
export async function openTlsOutgoing(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret'>;
  endpoint: Endpoint;
  sockets: OutgoingSocket[];
  log: TunnelLog;
}): Promise<{ end: TunnelEnd; failure(): string | undefined }> {
  const { cookie, endpoint, log } = options;
  let failure: string | undefined;
  let stopped = false;
  const open = new OpenSockets();
  const where = `${hostForUri(endpoint.host)}:${endpoint.port}`;
  const carry = (client: Socket, stream: StreamId) => {
    client.pause();
    const connectOptions: tls.ConnectionOptions & { allowHalfOpen: boolean; highWaterMark: number } = {
      ...TLS_OPTIONS,
      // Node honours both (net.Socket options) although @types/node does not list them for tls.connect.
      allowHalfOpen: true,
      highWaterMark: STREAM_BUFFER_BYTES,
      host: endpoint.host,
      port: endpoint.port,
      pskCallback: () => ({
        identity: tlsIdentity(cookie.migrationId, stream),
        psk: streamKey(cookie, 'tls-psk', stream),
      }),
      ...PSK_ONLY_CLIENT,
    };
    const peer = tls.connect(connectOptions);
    open.add(peer);
    peer.setTimeout(HANDSHAKE_TIMEOUT_MS, () =>
      peer.destroy(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)),
    );
    peer.once('secureConnect', () => {
      peer.setTimeout(0);
      // Belt and braces: not a byte of the guest goes out unless the handshake was keyed by our PSK.
      const refusal = certificateRefusal(peer.getPeerCertificate());
      if (refusal) {
        failure ??= `the tls endpoint ${where} ${refusal}`;
        peer.destroy();
        client.destroy();
        return;
      }
      const keyShare = (peer.getEphemeralKeyInfo() as { name?: string } | null)?.name ?? 'none';
      log(
        `tls stream ${stream} of migration ${cookie.migrationId}: connected to ${where} (${peer.getCipher().name}, key share ${keyShare})`,
      );
      void splice(client, peer).done.then(({ forward, backward, error }) => {
        if (error && !stopped) failure ??= `tls stream ${stream} to ${where} broke: ${error.message}`;
        log(
          `tls stream ${stream} of migration ${cookie.migrationId} closed: ${formatBytes(forward)} out, ${formatBytes(backward)} back`,
        );
      });
    });
    peer.once('error', (error) => {
      if (!stopped) failure ??= `tls stream ${stream} to ${where} failed: ${error.message}`;
      client.destroy();
    });
  };
  const servers = options.sockets.map((socket) => {
    const server = createServer({ allowHalfOpen: true, highWaterMark: STREAM_BUFFER_BYTES });
    acceptEach(server, open, socket.streams.length, (client, index) => carry(client, socket.streams[index]!));
    return server;
  });
  const paths = options.sockets.map((socket) => socket.path);
  try {
    for (const [i, server] of servers.entries()) await listenUnix(server, paths[i]!);
  } catch (error) {
    await closeUnixEnd(open, servers, paths);
    throw error;
  }
  return {
    failure: () => failure,
    end: {
      async close() {
        stopped = true;
        await closeUnixEnd(open, servers, paths);
      },
    },
  };
}
