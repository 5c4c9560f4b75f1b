// ssh, per stream:  client(SRC) ─unix─▶ sshd(SRC) ═[SSH]═ controller ═[SSH]═ sshd(DST) ─unix─▶ agent(DST) ─unix─▶ server(DST)
// No port between the hosts and no credentials for each other: each stream rides channels of the SSH connections
// the controller already holds (controller/stream-relay.ts). The destination agent challenges every connection
// with a fresh nonce and delivers it only once it proved its stream's key (stream-proof.ts).
import type { Duplex } from 'node:stream';
import { createConnection, createServer, type Socket } from 'node:net';
import type { Cookie } from './cookie.js';
import { AcceptanceSet } from './acceptance.js';
import { closeServer, closeUnixEnd, listenUnix, OpenSockets } from './listeners.js';
import { challengeLine, checkProof, newNonce, parseChallenge, proofLine, scanLine } from './stream-proof.js';
import { BUFFERED, splice, STREAM_BUFFER_BYTES } from './splice.js';
import { isQemuMigrationStream, type IncomingStream, type StreamId } from './streams.js';
import { formatBytes } from '../util/format.js';
import { HANDSHAKE_TIMEOUT_MS, PENDING_CONNECTIONS, refusalLog, type TunnelEnd, type TunnelLog } from './tunnel.js';

/**
 * Reads one line from the head of a stream (bounded in size and time) and leaves the stream paused with what
 * followed the line pushed back. Rejects with a reason fit for a log line.
 */
export function readLine(stream: Duplex, timeoutMs = HANDSHAKE_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, line?: string) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onEnd);
      stream.pause();
      if (error) reject(error);
      else resolve(line!);
    };
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const scan = scanLine(buffered);
      if (scan.kind === 'incomplete') return;
      if (scan.kind === 'too-long') return finish(new Error('not a vmig stream line'));
      finish(undefined, scan.line);
      if (scan.rest.length > 0) stream.unshift(scan.rest);
    };
    const onEnd = () => finish(new Error('the peer closed before a complete line'));
    const timer = setTimeout(() => finish(new Error(`no line within ${timeoutMs / 1000} s`)), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onEnd);
  });
}

/** Prover side: answers the destination's challenge on `channel` for `stream`; the stream's bytes may follow. */
export async function proveStream(
  channel: Duplex,
  cookie: Pick<Cookie, 'migrationId' | 'secret'>,
  stream: StreamId,
): Promise<void> {
  const nonce = parseChallenge(await readLine(channel));
  if (!nonce) throw new Error('the destination did not send a vmig challenge');
  channel.write(proofLine(cookie, stream, nonce));
}

/**
 * Destination: the unix socket the relay attaches to, for the whole stream set. Each connection is challenged,
 * and delivered to its stream's socket once it proved that stream's key; each stream once; the listener closes
 * once the set is complete. A refused connection is dropped without touching the others.
 */
export async function openSshIncoming(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret' | 'expiresAt'>;
  socketPath: string;
  streams: IncomingStream[];
  acceptance?: AcceptanceSet;
  log: TunnelLog;
}): Promise<TunnelEnd> {
  const { cookie, log } = options;
  const targets = new Map(options.streams.map((stream) => [stream.id, stream.socket]));
  const acceptance = options.acceptance ?? new AcceptanceSet([...targets.keys()]);
  const refusals = refusalLog(log);
  let stopped = false;
  const open = new OpenSockets();
  const refuse = (socket: Socket, reason: string) => {
    if (!stopped) refusals.refused(`ssh tunnel of migration ${cookie.migrationId}: refused a stream (${reason})`);
    socket.destroy();
  };
  const server = createServer({ allowHalfOpen: true, highWaterMark: STREAM_BUFFER_BYTES }, (peer) => {
    open.add(peer);
    peer.on('error', () => undefined);
    const nonce = newNonce();
    peer.write(challengeLine(nonce));
    readLine(peer).then(
      (line) => {
        const verdict = checkProof(line, cookie, nonce);
        if (!verdict.ok) return refuse(peer, verdict.reason);
        const claim = stopped
          ? { ok: false as const, reason: 'the tunnel is closed' }
          : acceptance.claim(verdict.stream);
        if (!claim.ok) return refuse(peer, claim.reason);
        if (claim.complete) void closeServer(server).then(refusals.flush);
        deliver(peer, verdict.stream);
      },
      (error: Error) => refuse(peer, error.message),
    );
  });
  server.maxConnections = targets.size + PENDING_CONNECTIONS;
  // QEMU 7.2 takes the first connection to its socket as the main channel: as over tls (tls.ts), a multifd stream
  // that proved itself before ram waits until ram is delivered (the relayed handshakes finish in any order).
  let ramDelivered: () => void = () => undefined;
  const ramIn = new Promise<void>((resolve) => (ramDelivered = resolve));
  const waitsForRam = (stream: StreamId) => stream !== 'ram' && isQemuMigrationStream(stream) && targets.has('ram');
  const deliver = (peer: Socket, stream: StreamId) => {
    if (waitsForRam(stream)) void ramIn.then(() => !stopped && !peer.destroyed && connectTarget(peer, stream));
    else connectTarget(peer, stream);
  };
  const connectTarget = (peer: Socket, stream: StreamId) => {
    const target = createConnection({ path: targets.get(stream)!, allowHalfOpen: true, ...BUFFERED });
    open.add(target);
    target.once('connect', () => {
      if (stream === 'ram') ramDelivered();
      log(`ssh stream ${stream} of migration ${cookie.migrationId}: authenticated, streaming in`);
      void splice(peer, target).done.then(({ forward, backward, error }) => {
        log(
          `ssh stream ${stream} of migration ${cookie.migrationId} closed: ${formatBytes(forward)} in, ${formatBytes(backward)} back${error && !stopped ? ` (${error.message})` : ''}`,
        );
      });
    });
    target.once('error', (error) => {
      log(`ssh stream ${stream} of migration ${cookie.migrationId}: its destination socket failed: ${error.message}`);
      peer.destroy();
    });
  };
  await listenUnix(server, options.socketPath);
  return {
    async close() {
      stopped = true;
      refusals.flush();
      await closeUnixEnd(open, [server], [options.socketPath]);
    },
  };
}
