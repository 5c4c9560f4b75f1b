// Real TLS 1.3 on loopback between the two tunnel ends, with a unix server standing in for each QEMU.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mintCookie, pskOf, type Cookie } from '../../../src/transports/cookie.js';
import { openTlsIncoming, openTlsOutgoing, type TunnelEnd } from '../../../src/transports/tls.js';
import { fakeQemu, waitFor } from './fixtures.js';

/** Resolves with how a client's TLS attempt ended. */
function attempt(port: number, identity: string, psk: Buffer): Promise<'secure' | 'refused'> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, minVersion: 'TLSv1.3', pskCallback: () => ({ identity, psk }), checkServerIdentity: () => undefined });
    // A handshake can complete on the client before the server's rejection of a used cookie arrives: wait for data or close.
    socket.once('secureConnect', () => socket.write('x'));
    socket.once('data', () => {
      socket.destroy();
      resolve('secure');
    });
    socket.once('error', () => resolve('refused'));
    socket.once('close', () => resolve('refused'));
  });
}

describe('tls tunnel', () => {
  let dir: string;
  let cookie: Cookie;
  const ends: TunnelEnd[] = [];
  const servers: Server[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmig-tls-'));
    cookie = mintCookie('5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f', 'tls', undefined);
  });
  afterEach(async () => {
    for (const end of ends.splice(0)) await end.close();
    for (const server of servers.splice(0)) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function incoming(overrides: Partial<Cookie> = {}) {
    const qemu = await fakeQemu(join(dir, 'in.sock'));
    servers.push(qemu.server);
    const opened = await openTlsIncoming({ cookie: { ...cookie, ...overrides }, listenHost: '127.0.0.1', portRange: [49152, 49215], qemuSocket: join(dir, 'in.sock'), log: () => undefined });
    ends.push(opened.end);
    return { qemu, endpoint: opened.endpoint };
  }

  it('carries the stream both ways, with an ephemeral key share, and listens for one connection only', async () => {
    const { qemu, endpoint } = await incoming();
    expect(endpoint.port).toBeGreaterThanOrEqual(49152);
    const lines: string[] = [];
    const outgoing = await openTlsOutgoing({ cookie, endpoint, socketPath: join(dir, 'out.sock'), log: (line) => lines.push(line) });
    ends.push(outgoing.end);
    expect(outgoing.uri).toBe(`unix:${join(dir, 'out.sock')}`);
    const payload = randomBytes(4 * 1024 * 1024);
    const source = createConnection(join(dir, 'out.sock'));
    let back = '';
    source.on('data', (chunk: Buffer) => (back += chunk.toString()));
    source.end(payload);
    await waitFor(() => qemu.received().length === payload.length && back === 'ack');
    expect(qemu.received().equals(payload)).toBe(true);
    expect(lines.join('\n')).toMatch(/TLS_AES_128_GCM_SHA256, key share X25519/);
    expect(outgoing.failure()).toBeUndefined();
    // The listener closed after its one connection.
    const refused = await new Promise<boolean>((resolve) => connect(endpoint.port, '127.0.0.1').once('error', () => resolve(true)).once('connect', () => resolve(false)));
    expect(refused).toBe(true);
  });

  it('refuses a wrong key, a wrong identity, raw TCP and garbage without touching QEMU, then still accepts the right key once', async () => {
    const { qemu, endpoint } = await incoming();
    expect(await attempt(endpoint.port, cookie.migrationId, randomBytes(32))).toBe('refused');
    expect(await attempt(endpoint.port, 'someone-else', pskOf(cookie))).toBe('refused');
    await new Promise<void>((resolve) => {
      const raw = connect(endpoint.port, '127.0.0.1', () => raw.write('GET / HTTP/1.0\r\n\r\n'));
      raw.on('error', () => undefined).once('close', () => resolve());
    });
    expect(qemu.connections).toHaveLength(0);
    expect(await attempt(endpoint.port, cookie.migrationId, pskOf(cookie))).toBe('secure');
    await waitFor(() => qemu.connections.length === 1);
    expect(await attempt(endpoint.port, cookie.migrationId, pskOf(cookie))).toBe('refused');
    expect(qemu.connections).toHaveLength(1);
  });

  it('refuses an expired cookie', async () => {
    const { qemu, endpoint } = await incoming({ expiresAt: Date.now() - 1 });
    expect(await attempt(endpoint.port, cookie.migrationId, pskOf(cookie))).toBe('refused');
    expect(qemu.connections).toHaveLength(0);
  });

  it('reports why the tunnel failed when the destination is not there', async () => {
    const outgoing = await openTlsOutgoing({ cookie, endpoint: { host: '127.0.0.1', port: 1 }, socketPath: join(dir, 'out.sock'), log: () => undefined });
    ends.push(outgoing.end);
    const source = createConnection(join(dir, 'out.sock'));
    await new Promise((resolve) => source.on('error', resolve).once('close', resolve));
    expect(outgoing.failure()).toMatch(/the tls tunnel to 127\.0\.0\.1:1 failed: .*ECONNREFUSED/);
  });
});
