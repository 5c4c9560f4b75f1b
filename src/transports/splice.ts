// Joins two byte streams both ways with backpressure (stream.pipeline), counting bytes per direction.
// Bytes are never parsed or re-framed here: a slow reader slows the writer instead of growing a buffer.
// Both streams must allow half-open connections: each direction ends on its own (QEMU's stream ends long before
// the other side has nothing more to say), and a socket that ended its write side on reading EOF would cut the
// other direction short ("premature close").
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Stream buffer (readable and writable high-water mark) of every socket a tunnel end opens; Node's default is
 * 16 KiB. With more room, a burst of the stream waits in memory instead of pausing and resuming the reading
 * socket, which costs syscalls and JavaScript per byte: dist/bench/pump.js measured 7 % less CPU per GiB for the
 * tls tunnel and 14 % less for a plain relay. Still bounded: a slow reader stops the writer after 1 MiB.
 */
export const STREAM_BUFFER_BYTES = 1024 * 1024;
/** Spread into a net.createConnection / tls.connect options object (@types/node does not list the option there). */
export const BUFFERED: { highWaterMark: number } = { highWaterMark: STREAM_BUFFER_BYTES };

export interface SpliceResult {
  /** Bytes a → b, and b → a. */
  forward: number;
  backward: number;
  /** The first error of either direction; undefined when both ended cleanly. */
  error: Error | undefined;
}

export interface Splice {
  readonly done: Promise<SpliceResult>;
  counts(): { forward: number; backward: number };
  destroy(): void;
}

export function splice(a: Duplex, b: Duplex): Splice {
  let forward = 0;
  let backward = 0;
  // A 'data' listener next to the pipe's own adds no copy: both see the same chunk.
  a.on('data', (chunk: Buffer) => (forward += chunk.length));
  b.on('data', (chunk: Buffer) => (backward += chunk.length));
  let firstError: Error | undefined;
  const direction = (from: Duplex, to: Duplex) =>
    pipeline(from, to).catch((error: Error) => {
      firstError ??= error;
      // One direction broke: the tunnel is over, so the other direction must not hang.
      a.destroy();
      b.destroy();
    });
  const done = Promise.all([direction(a, b), direction(b, a)]).then(() => ({ forward, backward, error: firstError }));
  return {
    done,
    counts: () => ({ forward, backward }),
    destroy: () => {
      a.destroy();
      b.destroy();
    },
  };
}
