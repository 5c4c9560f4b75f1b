// tls:  qemu(SRC) ─unix─▶ agent(SRC) ══TLS 1.3, PSK = cookie secret, identity = migration id══▶ agent(DST) ─unix─▶ qemu(DST)
// No certificates: the one-time pre-shared key authenticates both ends, and OpenSSL's psk_dhe_ke mode adds an
// ephemeral X25519 key share, so a key that leaks later does not decrypt a recorded stream.
import { createConnection, createServer, type Socket } from 'node:net';
import tls from 'node:tls';
import { hostForUri, pskOf, secretsEqual, type Cookie, type Endpoint } from './cookie.js';
import { acceptOne, closeServer, closeUnixEnd, listenUnix, OpenSockets } from './listeners.js';
import { bindInRange } from './ports.js';
import { BUFFERED, splice, STREAM_BUFFER_BYTES } from './splice.js';

/** TLS 1.3 with a PSK needs a SHA-256 suite (the PSK's hash); AES-GCM first for AES-NI hosts. */
const TLS_OPTIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256' } as const;
/** A peer that has not completed its handshake by then is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

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
export function certificateRefusal(cert: tls.PeerCertificate | Record<string, never> | null | undefined): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const subject = (cert as tls.PeerCertificate).subject?.CN;
  return `presented a certificate${subject ? ` for ${subject}` : ''} instead of proving the migration's one-time key: refused, nothing was sent`;
}

export interface TunnelEnd {
  close(): Promise<void>;
}

export type TunnelLog = (message: string) => void;

const bytes = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

/**
 * Destination: a TLS listener on a free port of the range. It hands exactly one authenticated connection to
 * QEMU's incoming unix socket and then stops listening; failed handshakes never reach QEMU.
 */
export async function openTlsIncoming(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret' | 'expiresAt'>;
  listenHost: string;
  portRange: [number, number];
  qemuSocket: string;
  log: TunnelLog;
}): Promise<{ endpoint: Endpoint; end: TunnelEnd }> {
  const { cookie, log } = options;
  const key = pskOf(cookie);
  let accepted = false;
  let stopped = false;
  const open = new OpenSockets();
  const server = tls.createServer({
    ...TLS_OPTIONS,
    allowHalfOpen: true,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    // Returning null fails the handshake: a wrong identity, a used or expired cookie all look the same to the peer.
    pskCallback: (_socket, identity) => {
      const valid = secretsEqual(identity, cookie.migrationId) && !accepted && Date.now() <= cookie.expiresAt;
      return valid ? key : null;
    },
  });
  // Every raw connection, so that closing does not wait for a handshake in progress to time out.
  server.on('connection', (socket: Socket) => open.add(socket));
  server.on('tlsClientError', (error, socket) => {
    if (!stopped) log(`tls listener of migration ${cookie.migrationId}: refused a connection from ${socket.remoteAddress ?? 'unknown'} (${(error as NodeJS.ErrnoException).code ?? error.message})`);
    socket.destroy();
  });
  server.on('secureConnection', (peer) => {
    // Two handshakes may finish together: only the first is the migration.
    if (accepted || stopped) {
      peer.destroy();
      return;
    }
    accepted = true;
    void closeServer(server);
    const qemu = createConnection({ path: options.qemuSocket, allowHalfOpen: true, ...BUFFERED });
    open.add(qemu);
    qemu.once('connect', () => {
      log(`tls tunnel of migration ${cookie.migrationId}: ${peer.remoteAddress ?? 'peer'} authenticated, streaming into QEMU`);
      const joined = splice(peer, qemu);
      void joined.done.then(({ forward, backward, error }) => {
        log(`tls tunnel of migration ${cookie.migrationId} closed: ${bytes(forward)} in, ${bytes(backward)} back${error && !stopped ? ` (${error.message})` : ''}`);
      });
    });
    qemu.once('error', (error) => {
      log(`tls tunnel of migration ${cookie.migrationId}: QEMU's incoming socket failed: ${error.message}`);
      peer.destroy();
    });
  });
  const endpoint = await bindInRange(options.listenHost, options.portRange, (port) =>
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
        open.destroyAll();
        if (server.listening) await closeServer(server);
      },
    },
  };
}

/**
 * Source: a unix socket for QEMU's outgoing stream; its one connection is carried over TLS to the endpoint.
 * `failure()` says why the tunnel broke, for the error message when QEMU reports the migration failed.
 */
export async function openTlsOutgoing(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret'>;
  endpoint: Endpoint;
  socketPath: string;
  log: TunnelLog;
}): Promise<{ uri: string; end: TunnelEnd; failure(): string | undefined }> {
  const { cookie, endpoint, log } = options;
  const key = pskOf(cookie);
  let failure: string | undefined;
  let stopped = false;
  const open = new OpenSockets();
  const where = `${hostForUri(endpoint.host)}:${endpoint.port}`;
  const server = createServer({ allowHalfOpen: true, highWaterMark: STREAM_BUFFER_BYTES });
  // QEMU connects once per migration; anything else on this socket is not QEMU's stream.
  acceptOne(server, open, (qemu) => {
    qemu.pause();
    const connectOptions: tls.ConnectionOptions & { allowHalfOpen: boolean; highWaterMark: number } = {
      ...TLS_OPTIONS,
      // Node honours both (net.Socket options) although @types/node does not list them for tls.connect.
      allowHalfOpen: true,
      highWaterMark: STREAM_BUFFER_BYTES,
      host: endpoint.host,
      port: endpoint.port,
      pskCallback: () => ({ identity: cookie.migrationId, psk: key }),
      ...PSK_ONLY_CLIENT,
    };
    const peer = tls.connect(connectOptions);
    open.add(peer);
    peer.setTimeout(HANDSHAKE_TIMEOUT_MS, () => peer.destroy(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)));
    peer.once('secureConnect', () => {
      peer.setTimeout(0);
      // Belt and braces: not a byte of the guest goes out unless the handshake was keyed by our PSK.
      const refusal = certificateRefusal(peer.getPeerCertificate());
      if (refusal) {
        failure ??= `the tls endpoint ${where} ${refusal}`;
        peer.destroy();
        qemu.destroy();
        return;
      }
      const keyShare = (peer.getEphemeralKeyInfo() as { name?: string } | null)?.name ?? 'none';
      log(`tls tunnel of migration ${cookie.migrationId}: connected to ${where} (${peer.getCipher().name}, key share ${keyShare})`);
      const joined = splice(qemu, peer);
      void joined.done.then(({ forward, backward, error }) => {
        if (error && !stopped) failure ??= `the tls tunnel to ${where} broke: ${error.message}`;
        log(`tls tunnel of migration ${cookie.migrationId} closed: ${bytes(forward)} out, ${bytes(backward)} back`);
      });
    });
    peer.once('error', (error) => {
      if (!stopped) failure ??= `the tls tunnel to ${where} failed: ${error.message}`;
      qemu.destroy();
    });
  });
  await listenUnix(server, options.socketPath);
  return {
    uri: `unix:${options.socketPath}`,
    failure: () => failure,
    end: {
      async close() {
        stopped = true;
        await closeUnixEnd(open, [server], [options.socketPath]);
      },
    },
  };
}
