// The prover's half of a relayed stream set, wherever it runs (the controller for the ssh relay, the source
// agent for p2p): listen on each source socket; for every connection, open a channel to the destination agent,
// answer its challenge with that stream's key (stream-proof.ts), then only move bytes.
import type { Duplex } from 'node:stream';
import type { Cookie } from './cookie.js';
import { splice } from './splice.js';
import { proveStream } from './ssh-relay.js';
import type { OutgoingSocket, StreamId } from './streams.js';
import { formatBytes } from '../util/format.js';

/** A listener on a unix socket of the source host whose connections come to the prover. */
export interface HostListener {
  close(): Promise<void>;
}

export interface StreamRelay {
  /** Why a stream broke, if one did (for the error message when QEMU reports the failure). */
  failure(): string | undefined;
  close(): Promise<void>;
}

/**
 * Relays every stream of the cookie's set: the k-th connection on each source socket becomes that socket's k-th
 * stream. Each listener stops once it has its streams.
 */
export async function relayProvenStreams(options: {
  cookie: Pick<Cookie, 'migrationId' | 'secret'>;
  sockets: OutgoingSocket[];
  listen(path: string, onConnection: (stream: Duplex, reject: () => void) => void): Promise<HostListener>;
  /** A new channel to the destination agent's relay socket. */
  connect(): Promise<Duplex>;
  log?: (line: string) => void;
}): Promise<StreamRelay> {
  const { cookie } = options;
  const log = options.log ?? (() => undefined);
  let failure: string | undefined;
  let stopped = false;
  const channels = new Set<Duplex>();
  const listeners: HostListener[] = [];
  const relay = async (fromSource: Duplex, stream: StreamId) => {
    channels.add(fromSource);
    fromSource.pause();
    let toDestination: Duplex | undefined;
    try {
      toDestination = await options.connect();
      channels.add(toDestination);
      await proveStream(toDestination, cookie, stream);
    } catch (error) {
      if (!stopped) failure ??= `the ssh relay of stream ${stream} could not start: ${(error as Error).message}`;
      fromSource.destroy();
      toDestination?.destroy();
      return;
    }
    const joined = splice(fromSource, toDestination);
    void joined.done.then(({ forward, backward, error }) => {
      channels.delete(fromSource);
      channels.delete(toDestination!);
      if (error && !stopped) failure ??= `the ssh relay of stream ${stream} broke: ${error.message}`;
      log(
        `ssh stream ${stream} of migration ${cookie.migrationId} closed: ${formatBytes(forward)} out, ${formatBytes(backward)} back`,
      );
    });
  };
  const close = async () => {
    stopped = true;
    for (const channel of channels) channel.destroy();
    await Promise.all(listeners.map((listener) => listener.close().catch(() => undefined)));
  };
  try {
    for (const socket of options.sockets) {
      let taken = 0;
      // eslint-disable-next-line prefer-const -- the callback needs the listener it belongs to
      let listener: HostListener | undefined;
      listener = await options.listen(socket.path, (connection, reject) => {
        const stream = socket.streams[taken];
        if (stream === undefined || stopped) return reject();
        taken++;
        // Once it has its streams, the socket stops listening: an extra connection finds nobody.
        if (taken === socket.streams.length) void listener?.close().catch(() => undefined);
        void relay(connection, stream);
      });
      listeners.push(listener);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { failure: () => failure, close };
}
