// The line at the head of an ssh-relayed stream: it proves that whoever opened the stream holds this
// migration's cookie. Pure (no sockets), so both ends and the unit tests share it.
//   "vmig-stream/1 <migration id> <hex HMAC-SHA256(secret, "vmig-stream/1 <migration id>")>\n"
// An HMAC rather than the secret itself: the secret never travels, not even inside the SSH channels.
import { createHmac } from 'node:crypto';
import { secretsEqual, type Cookie } from './cookie.js';

const MAGIC = 'vmig-stream/1';
/** A header longer than this is not ours: refuse it instead of buffering. */
export const MAX_HEADER_BYTES = 256;

type HeaderKey = Pick<Cookie, 'migrationId' | 'secret'>;

const proof = (key: HeaderKey): string => createHmac('sha256', Buffer.from(key.secret, 'hex')).update(`${MAGIC} ${key.migrationId}`).digest('hex');

/** The header the source writes before any of QEMU's bytes. */
export function streamHeader(key: HeaderKey): string {
  return `${MAGIC} ${key.migrationId} ${proof(key)}\n`;
}

export type HeaderScan = { kind: 'incomplete' } | { kind: 'too-long' } | { kind: 'line'; line: string; rest: Buffer };

/** Looks for the header line in what has arrived so far; `rest` is the start of QEMU's stream. */
export function scanHeader(buffered: Buffer): HeaderScan {
  const newline = buffered.indexOf(0x0a);
  if (newline === -1) return buffered.length >= MAX_HEADER_BYTES ? { kind: 'too-long' } : { kind: 'incomplete' };
  if (newline >= MAX_HEADER_BYTES) return { kind: 'too-long' };
  return { kind: 'line', line: buffered.subarray(0, newline).toString('latin1'), rest: buffered.subarray(newline + 1) };
}

export type HeaderVerdict = { ok: true } | { ok: false; reason: string };

/** Whether `line` opens the stream of the migration `cookie` belongs to. Reasons never contain the secret. */
export function checkHeader(line: string, cookie: Pick<Cookie, 'migrationId' | 'secret' | 'expiresAt'>, now = Date.now()): HeaderVerdict {
  const [magic, migrationId, presented, ...extra] = line.split(' ');
  if (magic !== MAGIC || migrationId === undefined || presented === undefined || extra.length > 0) return { ok: false, reason: 'not a vmig stream header' };
  // Both compared in constant time: neither comparison may leak how much of a guess was right.
  const idOk = secretsEqual(migrationId, cookie.migrationId);
  const proofOk = secretsEqual(presented, proof(cookie));
  if (!idOk) return { ok: false, reason: 'the header names another migration' };
  if (!proofOk) return { ok: false, reason: 'the header does not prove the cookie' };
  if (now > cookie.expiresAt) return { ok: false, reason: 'the cookie has expired' };
  return { ok: true };
}
