// One tls stream end, as a pump process runs it (pump-process.ts): the source side connects to the destination
// with the stream's PSK and carries a local client over it; the destination side completes a PSK handshake on a
// raw TCP connection, asks its agent to claim the stream, and delivers it. What goes over the wire is in tls.ts.
import { createConnection, type Socket } from 'node:net';
import tls from 'node:tls';
import { BUFFERED, splice, STREAM_BUFFER_BYTES } from './splice.js';
import { streamOfIdentity } from './stream-keys.js';
import type { StreamId } from './streams.js';
import { HANDSHAKE_TIMEOUT_MS } from './tunnel.js';

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
 * Node's Writable hands every chunk queued behind a write in flight to `_writev`, and a TLS socket's writev
 * first copies them all into one buffer (SSL_write takes one). Without `_writev` each chunk is encrypted
 * straight from where it was read: the pump bench measured 0.15–0.2 CPU s/GiB less on the sending end.
 */
function withoutWritevCopy(socket: tls.TLSSocket): tls.TLSSocket {
  (socket as unknown as { _writev: unknown })._writev = null;
  return socket;
}

/** What a stream end reports to its agent (over the pump process's IPC channel). */
export type StreamReport =
  | { type: 'log'; line: string }
  | { type: 'failure'; text: string }
  | { type: 'refused'; line: string }
  | { type: 'closed'; stream: StreamId; forward: number; backward: number; error?: string }
  /** A proven stream is connected to its destination socket (QEMU's, an NBD export's). */
  | { type: 'delivered'; stream: StreamId }
  /** The connection is over (closed, refused or never proven): its pump may take another. */
  | { type: 'gone' };

export type Report = (report: StreamReport) => void;

export interface OutgoingSpec {
  migrationId: string;
  stream: StreamId;
  host: string;
  port: number;
  /** host:port as a URI writes it, for messages. */
  where: string;
  identity: string;
  /** The stream's PSK, hex: it reaches this process over its IPC channel only, never argv or env. */
  psk: string;
}

/** Source: carries a local client (QEMU, an NBD client) over its own TLS connection to the destination. */
export function carryOutgoing(client: Socket, spec: OutgoingSpec, report: Report): { destroy(): void } {
  const { stream, where, migrationId } = spec;
  client.pause();
  const psk = Buffer.from(spec.psk, 'hex');
  const connectOptions: tls.ConnectionOptions & { allowHalfOpen: boolean; highWaterMark: number } = {
    ...TLS_OPTIONS,
    // Node honours both (net.Socket options) although @types/node does not list them for tls.connect.
    allowHalfOpen: true,
    highWaterMark: STREAM_BUFFER_BYTES,
    host: spec.host,
    port: spec.port,
    pskCallback: () => ({ identity: spec.identity, psk }),
    ...PSK_ONLY_CLIENT,
  };
  const peer = withoutWritevCopy(tls.connect(connectOptions));
  let stopped = false;
  peer.setTimeout(HANDSHAKE_TIMEOUT_MS, () =>
    peer.destroy(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)),
  );
  peer.once('secureConnect', () => {
    peer.setTimeout(0);
    // Belt and braces: not a byte of the guest goes out unless the handshake was keyed by our PSK.
    const refusal = certificateRefusal(peer.getPeerCertificate());
    if (refusal) {
      report({ type: 'failure', text: `the tls endpoint ${where} ${refusal}` });
      peer.destroy();
      client.destroy();
      return;
    }
    const keyShare = (peer.getEphemeralKeyInfo() as { name?: string } | null)?.name ?? 'none';
    report({
      type: 'log',
      line: `tls stream ${stream} of migration ${migrationId}: connected to ${where} (${peer.getCipher().name}, key share ${keyShare}, pump pid ${process.pid})`,
    });
    void splice(client, peer).done.then(({ forward, backward, error }) => {
      if (error && !stopped)
        report({ type: 'failure', text: `tls stream ${stream} to ${where} broke: ${error.message}` });
      report({ type: 'closed', stream, forward, backward, error: stopped ? undefined : error?.message });
    });
  });
  peer.once('error', (error) => {
    if (!stopped) report({ type: 'failure', text: `tls stream ${stream} to ${where} failed: ${error.message}` });
    client.destroy();
  });
  return {
    destroy() {
      stopped = true;
      peer.destroy();
      client.destroy();
    },
  };
}

export interface IncomingSpec {
  migrationId: string;
  expiresAt: number;
  /** Every expected stream's PSK, hex (over IPC only). */
  keys: Record<StreamId, string>;
}

/** The agent's answer to a proven stream: deliver it to `socket`, or drop it. */
export type ClaimAnswer = { socket: string } | { refused: string };

/**
 * Destination: a PSK handshake on a raw TCP connection. Returning no key fails the handshake: an unknown or taken
 * stream, a wrong key, an expired cookie all look the same to the peer. The key itself is checked by TLS (the PSK
 * binder); a proven stream is claimed from the agent, which takes each stream once across every pump.
 */
export function acceptIncoming(
  raw: Socket,
  spec: IncomingSpec,
  taken: ReadonlySet<StreamId>,
  claim: (stream: StreamId) => Promise<ClaimAnswer>,
  report: Report,
): { destroy(): void } {
  let named: StreamId | undefined;
  const remote = raw.remoteAddress ?? 'unknown';
  const peer = withoutWritevCopy(
    new tls.TLSSocket(raw, {
      ...TLS_OPTIONS,
      isServer: true,
      pskCallback: (_socket: tls.TLSSocket, identity: string) => {
        const stream = streamOfIdentity(identity, spec.migrationId);
        const key = stream ? spec.keys[stream] : undefined;
        if (!stream || !key || taken.has(stream) || Date.now() > spec.expiresAt) return null;
        named = stream;
        return Buffer.from(key, 'hex');
      },
    } as tls.TLSSocketOptions),
  );
  let stopped = false;
  peer.once('close', () => report({ type: 'gone' }));
  const refuse = (reason: string) => {
    if (!stopped)
      report({
        type: 'refused',
        line: `tls listener of migration ${spec.migrationId}: refused a connection from ${remote} (${reason})`,
      });
    peer.destroy();
  };
  let secured = false;
  peer.setTimeout(HANDSHAKE_TIMEOUT_MS, () => refuse('no TLS handshake in time'));
  // Before the handshake completes, an error is a refusal; after it, the splice's pipeline owns the errors.
  peer.on('error', (error: NodeJS.ErrnoException) => (secured ? peer.destroy() : refuse(error.code ?? error.message)));
  peer.once('secure', async () => {
    secured = true;
    peer.setTimeout(0);
    const stream = named;
    if (!stream) return refuse('no stream named');
    peer.pause();
    const answer = await claim(stream);
    if ('refused' in answer) return refuse(answer.refused);
    if (peer.destroyed) return;
    const target = createConnection({ path: answer.socket, allowHalfOpen: true, ...BUFFERED });
    target.once('connect', () => {
      report({ type: 'delivered', stream });
      report({
        type: 'log',
        line: `tls stream ${stream} of migration ${spec.migrationId}: ${remote} authenticated, streaming in (pump pid ${process.pid})`,
      });
      void splice(peer, target).done.then(({ forward, backward, error }) =>
        report({ type: 'closed', stream, forward, backward, error: stopped ? undefined : error?.message }),
      );
    });
    target.once('error', (error) => {
      report({
        type: 'log',
        line: `tls stream ${stream} of migration ${spec.migrationId}: its destination socket failed: ${error.message}`,
      });
      peer.destroy();
    });
  });
  return {
    destroy() {
      stopped = true;
      peer.destroy();
      raw.destroy();
    },
  };
}
