import { describe, expect, it } from 'vitest';
import {
  COOKIE_LIFETIME_MS,
  cookieSchema,
  describeCookie,
  hostForUri,
  mintCookie,
  secretsEqual,
} from '../../../src/transports/cookie.js';

const MIGRATION_ID = '5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f';

describe('mintCookie', () => {
  it('has a 256-bit hex secret and expires in the future', () => {
    const before = Date.now();
    const cookie = mintCookie(MIGRATION_ID, 'direct', { host: '10.0.0.2', port: 49152 });
    expect(cookie.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(cookie.expiresAt).toBeGreaterThan(Date.now());
    expect(cookie.expiresAt).toBeGreaterThanOrEqual(before + COOKIE_LIFETIME_MS);
    expect(cookieSchema.parse(cookie)).toEqual(cookie);
  });

  it('uses the given clock and a fresh secret each time', () => {
    const a = mintCookie(MIGRATION_ID, 'ssh', undefined, 1_000);
    const b = mintCookie(MIGRATION_ID, 'ssh', undefined, 1_000);
    expect(a.expiresAt).toBe(1_000 + COOKIE_LIFETIME_MS);
    expect(a).not.toHaveProperty('endpoint');
    expect(a.secret).not.toBe(b.secret);
  });
});

describe('secretsEqual', () => {
  it('compares secrets exactly, including different lengths', () => {
    const { secret } = mintCookie(MIGRATION_ID, 'direct', undefined);
    expect(secretsEqual(secret, `${secret}`)).toBe(true);
    expect(secretsEqual(secret, `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`)).toBe(false);
    expect(secretsEqual(secret, secret.slice(0, 32))).toBe(false);
    expect(secretsEqual('', secret)).toBe(false);
  });
});

describe('hostForUri', () => {
  it('brackets IPv6 literals once and leaves other hosts alone', () => {
    expect(hostForUri('fd00::2')).toBe('[fd00::2]');
    expect(hostForUri('[fd00::2]')).toBe('[fd00::2]');
    expect(hostForUri('10.0.0.2')).toBe('10.0.0.2');
    expect(hostForUri('h2.lab')).toBe('h2.lab');
  });
});

describe('describeCookie', () => {
  it('names migration, transport and endpoint but never the secret', () => {
    const cookie = mintCookie(MIGRATION_ID, 'direct', { host: 'fd00::2', port: 49152 });
    const text = describeCookie(cookie);
    expect(text).toBe(`migration ${MIGRATION_ID} via direct to [fd00::2]:49152`);
    expect(text).not.toContain(cookie.secret);
    expect(text).not.toContain(cookie.secret.slice(0, 8));
  });
});
