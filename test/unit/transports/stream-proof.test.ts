import { describe, expect, it } from 'vitest';
import { mintCookie } from '../../../src/transports/cookie.js';
import {
  challengeLine,
  checkProof,
  MAX_LINE_BYTES,
  newNonce,
  parseChallenge,
  proofLine,
  scanLine,
} from '../../../src/transports/stream-proof.js';

const ID = '5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f';
const cookie = mintCookie(ID, 'ssh', undefined, 1_000);

describe('stream challenge and proof', () => {
  it('a challenge carries a fresh nonce', () => {
    const nonce = newNonce();
    expect(nonce).not.toBe(newNonce());
    expect(parseChallenge(challengeLine(nonce).trimEnd())).toBe(nonce);
    for (const garbage of [
      '',
      'vmig-challenge/2',
      'vmig-challenge/2 xyz',
      `vmig-challenge/2 ${nonce} extra`,
      `vmig-stream/2 ${nonce}`,
    ])
      expect(parseChallenge(garbage)).toBeUndefined();
  });

  it('a proof is one line that names the stream and proves its key without carrying a secret', () => {
    const nonce = newNonce();
    const line = proofLine(cookie, 'multifd-1', nonce);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.split('\n')).toHaveLength(2);
    expect(line).toContain(' multifd-1 ');
    expect(line).not.toContain(cookie.secret);
    expect(line.length).toBeLessThan(MAX_LINE_BYTES);
    expect(checkProof(line.trimEnd(), cookie, nonce, 2_000)).toEqual({ ok: true, stream: 'multifd-1' });
  });

  it('refuses another key, a replay against another nonce, a changed stream id, another migration, an expired cookie and garbage', () => {
    const nonce = newNonce();
    const other = mintCookie(ID, 'ssh', undefined, 1_000);
    expect(checkProof(proofLine(other, 'ram', nonce).trimEnd(), cookie, nonce, 2_000)).toMatchObject({
      ok: false,
      reason: 'the proof for stream ram does not prove the cookie',
    });
    expect(checkProof(proofLine(cookie, 'ram', nonce).trimEnd(), cookie, newNonce(), 2_000)).toMatchObject({
      ok: false,
    });
    const swapped = proofLine(cookie, 'ram', nonce).trimEnd().replace(' ram ', ' multifd-0 ');
    expect(checkProof(swapped, cookie, nonce, 2_000)).toMatchObject({
      ok: false,
      reason: 'the proof for stream multifd-0 does not prove the cookie',
    });
    const elsewhere = { ...cookie, migrationId: '00000000-1b2d-4c3e-8f9a-0a1b2c3d4e5f' };
    expect(checkProof(proofLine(elsewhere, 'ram', nonce).trimEnd(), cookie, nonce, 2_000)).toMatchObject({
      ok: false,
      reason: 'the proof names another migration',
    });
    expect(checkProof(proofLine(cookie, 'ram', nonce).trimEnd(), cookie, nonce, cookie.expiresAt + 1)).toEqual({
      ok: false,
      reason: 'the cookie has expired',
    });
    for (const garbage of [
      '',
      'GET / HTTP/1.1',
      `vmig-stream/2 ${ID} ram`,
      `vmig-stream/2 ${ID} ../x ${'0'.repeat(64)}`,
      `${proofLine(cookie, 'ram', nonce).trimEnd()} extra`,
    ]) {
      expect(checkProof(garbage, cookie, nonce, 2_000).ok).toBe(false);
    }
  });

  it('finds one line in what arrived, keeps what follows, refuses a line too long', () => {
    const nonce = newNonce();
    const line = Buffer.from(proofLine(cookie, 'ram', nonce));
    expect(scanLine(line.subarray(0, 10))).toEqual({ kind: 'incomplete' });
    const scan = scanLine(Buffer.concat([line, Buffer.from('QEVM')]));
    expect(scan.kind === 'line' && scan.rest.toString()).toBe('QEVM');
    expect(scanLine(Buffer.alloc(MAX_LINE_BYTES, 0x41))).toEqual({ kind: 'too-long' });
    expect(scanLine(Buffer.concat([Buffer.alloc(MAX_LINE_BYTES, 0x41), Buffer.from('\n')]))).toEqual({
      kind: 'too-long',
    });
  });
});
