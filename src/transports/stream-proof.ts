// The challenge and proof at the head of an ssh-relayed stream. Pure (no sockets): both ends and the tests share it.
//   destination → "vmig-challenge/2 <32 hex nonce>\n"
//   prover      → "vmig-stream/2 <migration id> <stream id> <hex HMAC-SHA256(streamKey(proof, stream id), line)>\n"
//                 where line = "vmig-stream/2 <migration id> <stream id> <nonce>"
// A fresh nonce per connection: a proof recorded from one connection proves nothing on the next (no replay). The
// key is the stream's own (stream-keys.ts); the secret never travels, not even inside the SSH channels.
import { createHmac, randomBytes } from 'node:crypto';
import { secretsEqual, type Cookie } from './cookie.js';
import { streamKey } from './stream-keys.js';
import { isStreamId, type StreamId } from './streams.js';

const CHALLENGE = 'vmig-challenge/2';
const PROOF = 'vmig-stream/2';
const NONCE_BYTES = 16;
/** A line longer than this is not ours: refuse it instead of buffering. */
export const MAX_LINE_BYTES = 256;

type Key = Pick<Cookie, 'migrationId' | 'secret'>;

export const newNonce = (): string => randomBytes(NONCE_BYTES).toString('hex');

export const challengeLine = (nonce: string): string => `${CHALLENGE} ${nonce}\n`;

/** The nonce of a challenge line, or undefined for anything else. */
export function parseChallenge(line: string): string | undefined {
  const [magic, nonce, ...extra] = line.split(' ');
  return magic === CHALLENGE && nonce !== undefined && /^[0-9a-f]{32}$/.test(nonce) && extra.length === 0
    ? nonce
    : undefined;
}

const mac = (key: Key, stream: StreamId, nonce: string): string =>
  createHmac('sha256', streamKey(key, 'stream-proof', stream))
    .update(`${PROOF} ${key.migrationId} ${stream} ${nonce}`)
    .digest('hex');

/** What the prover writes in answer to `nonce`, before any byte of the stream. */
export function proofLine(key: Key, stream: StreamId, nonce: string): string {
  return `${PROOF} ${key.migrationId} ${stream} ${mac(key, stream, nonce)}\n`;
}

export type LineScan = { kind: 'incomplete' } | { kind: 'too-long' } | { kind: 'line'; line: string; rest: Buffer };

/** Looks for one line in what has arrived so far; `rest` is the start of the stream after it. */
export function scanLine(buffered: Buffer): LineScan {
  const newline = buffered.indexOf(0x0a);
  if (newline === -1) return buffered.length >= MAX_LINE_BYTES ? { kind: 'too-long' } : { kind: 'incomplete' };
  if (newline >= MAX_LINE_BYTES) return { kind: 'too-long' };
  return { kind: 'line', line: buffered.subarray(0, newline).toString('latin1'), rest: buffered.subarray(newline + 1) };
}

export type ProofVerdict = { ok: true; stream: StreamId } | { ok: false; reason: string };

/** Whether `line` answers `nonce` for a stream of the cookie's migration. Reasons never contain a key. */
export function checkProof(
  line: string,
  cookie: Pick<Cookie, 'migrationId' | 'secret' | 'expiresAt'>,
  nonce: string,
  now = Date.now(),
): ProofVerdict {
  const [magic, migrationId, stream, presented, ...extra] = line.split(' ');
  if (
    magic !== PROOF ||
    migrationId === undefined ||
    stream === undefined ||
    presented === undefined ||
    extra.length > 0
  )
    return { ok: false, reason: 'not a vmig stream proof' };
  if (!isStreamId(stream)) return { ok: false, reason: 'the proof names no valid stream' };
  // Both compared in constant time: neither comparison may leak how much of a guess was right.
  const idOk = secretsEqual(migrationId, cookie.migrationId);
  const proofOk = secretsEqual(presented, mac(cookie, stream, nonce));
  if (!idOk) return { ok: false, reason: 'the proof names another migration' };
  if (!proofOk) return { ok: false, reason: `the proof for stream ${stream} does not prove the cookie` };
  if (now > cookie.expiresAt) return { ok: false, reason: 'the cookie has expired' };
  return { ok: true, stream };
}
