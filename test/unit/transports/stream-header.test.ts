import { describe, expect, it } from 'vitest';
import { mintCookie } from '../../../src/transports/cookie.js';
import { checkHeader, MAX_HEADER_BYTES, scanHeader, streamHeader } from '../../../src/transports/stream-header.js';

const cookie = mintCookie('5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f', 'ssh', undefined, 1_000);

describe('stream header', () => {
  it('is one line that proves the cookie without carrying its secret', () => {
    const header = streamHeader(cookie);
    expect(header.endsWith('\n')).toBe(true);
    expect(header.split('\n')).toHaveLength(2);
    expect(header).toContain(cookie.migrationId);
    expect(header).not.toContain(cookie.secret);
    expect(checkHeader(header.trimEnd(), cookie, 2_000)).toEqual({ ok: true });
  });

  it('refuses another key, another migration, an expired cookie and garbage', () => {
    const other = mintCookie(cookie.migrationId, 'ssh', undefined, 1_000);
    expect(checkHeader(streamHeader(other).trimEnd(), cookie, 2_000)).toEqual({ ok: false, reason: 'the header does not prove the cookie' });
    const elsewhere = { ...cookie, migrationId: '00000000-1b2d-4c3e-8f9a-0a1b2c3d4e5f' };
    expect(checkHeader(streamHeader(elsewhere).trimEnd(), cookie, 2_000)).toMatchObject({ ok: false, reason: 'the header names another migration' });
    expect(checkHeader(streamHeader(cookie).trimEnd(), cookie, cookie.expiresAt + 1)).toEqual({ ok: false, reason: 'the cookie has expired' });
    for (const garbage of ['', 'GET / HTTP/1.1', `vmig-stream/1 ${cookie.migrationId}`, `${streamHeader(cookie).trimEnd()} extra`]) {
      expect(checkHeader(garbage, cookie, 2_000).ok).toBe(false);
    }
  });

  it('finds the line in pieces and hands back the start of the stream', () => {
    const header = Buffer.from(streamHeader(cookie));
    expect(scanHeader(header.subarray(0, 10))).toEqual({ kind: 'incomplete' });
    const scan = scanHeader(Buffer.concat([header, Buffer.from([0x51, 0x45, 0x56, 0x4d])]));
    expect(scan.kind).toBe('line');
    if (scan.kind === 'line') {
      expect(scan.line).toBe(header.toString().trimEnd());
      expect([...scan.rest]).toEqual([0x51, 0x45, 0x56, 0x4d]);
    }
  });

  it('stops buffering a stream that is not ours', () => {
    expect(scanHeader(Buffer.alloc(MAX_HEADER_BYTES, 0x41))).toEqual({ kind: 'too-long' });
    expect(scanHeader(Buffer.concat([Buffer.alloc(MAX_HEADER_BYTES, 0x41), Buffer.from('\n')]))).toEqual({ kind: 'too-long' });
  });
});
