import { describe, expect, it } from 'vitest';
import { mintCookie } from '../../../src/transports/cookie.js';
import { streamKey, streamOfIdentity, tlsIdentity } from '../../../src/transports/stream-keys.js';

const ID = '5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f';

describe('per-stream keys', () => {
  const cookie = mintCookie(ID, 'tls', undefined);

  it('are 32 bytes, stable, and never the secret itself', () => {
    const key = streamKey(cookie, 'tls-psk', 'ram');
    expect(key).toHaveLength(32);
    expect(streamKey(cookie, 'tls-psk', 'ram').equals(key)).toBe(true);
    expect(key.toString('hex')).not.toBe(cookie.secret);
  });

  it('differ per purpose, per stream, per migration and per secret', () => {
    const keys = [
      streamKey(cookie, 'tls-psk', 'ram'),
      streamKey(cookie, 'stream-proof', 'ram'),
      streamKey(cookie, 'tls-psk', 'multifd-0'),
      streamKey({ ...cookie, migrationId: '00000000-1b2d-4c3e-8f9a-0a1b2c3d4e5f' }, 'tls-psk', 'ram'),
      streamKey(mintCookie(ID, 'tls', undefined), 'tls-psk', 'ram'),
    ].map((key) => key.toString('hex'));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('matches RFC 5869 HKDF-SHA256 (salt = migration id, info = purpose and stream)', async () => {
    const { createHmac } = await import('node:crypto');
    const prk = createHmac('sha256', ID).update(Buffer.from(cookie.secret, 'hex')).digest();
    const okm = createHmac('sha256', prk)
      .update(Buffer.concat([Buffer.from('vmig/2 tls-psk disk-vda'), Buffer.from([1])]))
      .digest();
    expect(streamKey(cookie, 'tls-psk', 'disk-vda').equals(okm)).toBe(true);
  });

  it('name the stream in the TLS identity, and read it back only for this migration', () => {
    expect(tlsIdentity(ID, 'multifd-2')).toBe(`${ID}/multifd-2`);
    expect(streamOfIdentity(`${ID}/multifd-2`, ID)).toBe('multifd-2');
    expect(streamOfIdentity(`${ID}/disk-vda`, ID)).toBe('disk-vda');
    expect(streamOfIdentity(`00000000-1b2d-4c3e-8f9a-0a1b2c3d4e5f/ram`, ID)).toBeUndefined();
    expect(streamOfIdentity(ID, ID)).toBeUndefined();
    expect(streamOfIdentity(`${ID}/bogus`, ID)).toBeUndefined();
    expect(streamOfIdentity(`${ID}/ram/x`, ID)).toBeUndefined();
  });
});
