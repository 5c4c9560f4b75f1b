// The stream set: a migration's data plane is a set of named streams, each its own connection end to end.
//
//   ram          QEMU's main migration channel (always present)
//   multifd-<i>  one per --parallel channel (QEMU connects N+1 times to the same source socket: ram first)
//   disk-<name>  one per migrated disk: QEMU's NBD client on the source to the NBD export on the destination
//
// Each stream proves the cookie with a key derived for it alone (stream-keys.ts: HKDF of the cookie secret, per
// purpose and stream id) and carries its id; the destination accepts exactly the expected set, each id once
// (acceptance.ts), then stops listening. A wrong key, a replayed proof, a duplicate or unknown id is refused
// without disturbing the streams already accepted.
//
// ── How a caller adds "one more stream from source unix socket X to destination unix socket Y" ──────────────
// Destination agent (Prepare), before returning the cookie:
//     openIncoming({ ..., streams: [{ id: 'disk-vda', socket: Y }] })
//   `ram` and `multifd-<i>` (from convergence.parallel) are added by openIncoming and go to QEMU's in.sock; every
//   extra stream goes to its own `socket` (several may share one socket, e.g. one NBD server with one export per
//   disk). The cookie it returns names the whole set (`cookie.streams`); the controller carries it to the source.
// Source agent (migrate.tunnel, before QEMU connects anywhere):
//     const tunnel = await openOutgoing(cookie, instanceDir, log)
//     tunnel.uri                      QEMU's `migrate` URI (ram and multifd connect there)
//     tunnel.socketOf('disk-vda')     X: a unix socket path in the instance dir; point QEMU's NBD client at it
//                                     (blockdev-add driver nbd, server { type: unix, path: X }, export vda)
//   X is chosen by the transport (sourceSocketOf below), so the caller never invents paths.
// Per transport:
//   tls     the source agent listens on X and opens one TLS 1.3 connection per stream to the destination's single
//           listener; PSK identity "<migration id>/<stream id>", PSK = streamKey(cookie, 'tls-psk', id).
//   ssh     the controller listens on X on the source host (sshd streamlocal-forward; a plain listener for local
//           hosts), and for each connection opens a direct-streamlocal channel to the destination agent's
//           ssh.sock, answers its challenge with streamKey(cookie, 'stream-proof', id) (stream-proof.ts) and
//           relays. The source agent is not in this path.
//   direct  no tunnel and no proof: QEMU connects to the destination itself. A disk stream over direct must be
//           exposed on TCP by its owner (as QEMU's own migration listener is); the stream set does not cover it.
// ────────────────────────────────────────────────────────────────────────────────────────────────────────────
import { join } from 'node:path';
import { z } from 'zod';

/** At most 64 multifd channels (QEMU's own limit is 255; --parallel takes 1 to 64). */
export const STREAM_ID_PATTERN = /^(ram|multifd-([0-9]|[1-5][0-9]|6[0-3])|disk-[A-Za-z0-9_.-]{1,32})$/;
export const streamIdSchema = z.string().regex(STREAM_ID_PATTERN);
export type StreamId = string;

export const isStreamId = (value: string): value is StreamId => STREAM_ID_PATTERN.test(value);

/** The streams of QEMU's migration itself: ram, plus one per multifd channel when --parallel N > 1. */
export function migrationStreams(parallel = 1): StreamId[] {
  const channels = parallel > 1 ? parallel : 0;
  return ['ram', ...Array.from({ length: channels }, (_, i) => `multifd-${i}`)];
}

/** The stream of one disk (its QEMU node or device name). */
export function diskStream(target: string): StreamId {
  const id = `disk-${target}`;
  if (!isStreamId(id))
    throw new Error(`"${target}" cannot name a disk stream (letters, digits, _ . - and at most 32 characters)`);
  return id;
}

/** QEMU's migration streams arrive on one socket; anything else is a stream of its own. */
export const isQemuMigrationStream = (id: StreamId): boolean => id === 'ram' || id.startsWith('multifd-');

/** Destination: where an accepted stream is delivered. */
export interface IncomingStream {
  id: StreamId;
  /** The unix socket to connect to once the stream is proven (QEMU's in.sock, an NBD export's socket …). */
  socket: string;
}

/** Source: a unix socket local clients connect to; its k-th connection becomes `streams[k]`. */
export interface OutgoingSocket {
  path: string;
  streams: StreamId[];
}

/** The source-side socket of each stream: QEMU's migration streams share out.sock; each other stream has its own. */
export function sourceSocketOf(instanceDir: string, id: StreamId): string {
  return join(instanceDir, isQemuMigrationStream(id) ? 'out.sock' : `out-${id}.sock`);
}

/** Groups a stream set by source socket, in the set's order (ram before multifd-0 …: QEMU connects in that order). */
export function outgoingSockets(instanceDir: string, streams: readonly StreamId[]): OutgoingSocket[] {
  const byPath = new Map<string, OutgoingSocket>();
  for (const id of streams) {
    const path = sourceSocketOf(instanceDir, id);
    const socket = byPath.get(path) ?? { path, streams: [] };
    socket.streams.push(id);
    byPath.set(path, socket);
  }
  return [...byPath.values()];
}

/** A stream set must hold ram once and no id twice. */
export function checkStreamSet(streams: readonly StreamId[]): string | undefined {
  if (!streams.includes('ram')) return 'the stream set has no ram stream';
  const seen = new Set<StreamId>();
  for (const id of streams) {
    if (!isStreamId(id)) return `"${id}" is not a stream id`;
    if (seen.has(id)) return `stream ${id} appears twice`;
    seen.add(id);
  }
  return undefined;
}
