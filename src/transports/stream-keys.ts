// Per-purpose, per-stream keys derived from the cookie secret (HKDF-SHA256), so that the secret itself never keys
// anything: a TLS PSK of one stream proves nothing for another stream, nor for the ssh relay's proofs.
import { hkdfSync } from 'node:crypto';
import type { Cookie } from './cookie.js';
import { isStreamId, type StreamId } from './streams.js';

export type KeyPurpose = 'tls-psk' | 'stream-proof';

type Secret = Pick<Cookie, 'migrationId' | 'secret'>;

/** 32 bytes: salt = the migration id, info = "vmig/2 <purpose> <stream id>". */
export function streamKey(cookie: Secret, purpose: KeyPurpose, stream: StreamId): Buffer {
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(cookie.secret, 'hex'), cookie.migrationId, `vmig/2 ${purpose} ${stream}`, 32),
  );
}

/** The TLS PSK identity of one stream: it names the migration and the stream, never a secret. */
export const tlsIdentity = (migrationId: string, stream: StreamId): string => `${migrationId}/${stream}`;

/** The stream a TLS identity names, if it names one of this migration's. */
export function streamOfIdentity(identity: string, migrationId: string): StreamId | undefined {
  const slash = identity.indexOf('/');
  if (slash === -1 || identity.slice(0, slash) !== migrationId) return undefined;
  const stream = identity.slice(slash + 1);
  return isStreamId(stream) ? stream : undefined;
}
