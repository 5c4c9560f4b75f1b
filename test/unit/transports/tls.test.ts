// Real TLS 1.3 on loopback between the two tunnel ends, one connection per stream, with unix servers standing in
// for QEMU (ram, multifd) and for an NBD export (a disk stream).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createConnection, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mintCookie, type Cookie } from '../../../src/transports/cookie.js';
import { streamKey, tlsIdentity } from '../../../src/transports/stream-keys.js';
import { openTlsIncoming, openTlsOutgoing } from '../../../src/transports/tls.js';
import type { TunnelEnd } from '../../../src/transports/tunnel.js';
import { fakeQemu, waitFor } from './fixtures.js';

/** Resolves with how a client's TLS attempt ended. */
function attempt(port: number, identity: string, psk: Buffer, first = 'x'): Promise<'secure' | 'refused'> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      minVersion: 'TLSv1.3',
      pskCallback: () => ({ identity, psk }),
      checkServerIdentity: () => undefined,
    });
    // A handshake can complete on the client before the server's rejection arrives: wait for data or close.
    socket.once('secureConnect', () => socket.write(first));
    socket.once('data', () => {
      socket.destroy();
      resolve('secure');
    });
    socket.once('error', () => resolve('refused'));
    socket.once('close', () => resolve('refused'));
  });
}

const ID = '5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f';

describe('tls tunnel, one connection per stream', () => {
  let dir: string;
  let cookie: Cookie;
  const ends: TunnelEnd[] = [];
  const servers: Server[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmig-tls-'));
    cookie = mintCookie(ID, 'tls', undefined, Date.now(), ['ram', 'multifd-0', 'disk-vda']);
  });
  afterEach(async () => {
    for (const end of ends.splice(0)) await end.close();
    for (const server of servers.splice(0)) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function incoming(overrides: Partial<Cookie> = {}) {
    const qemu = await fakeQemu(join(dir, 'in.sock'));
    const nbd = await fakeQemu(join(dir, 'nbd.sock'));
    servers.push(qemu.server, nbd.server);
    const streams = [
      { id: 'ram', socket: join(dir, 'in.sock') },
      { id: 'multifd-0', socket: join(dir, 'in.sock') },
      { id: 'disk-vda', socket: join(dir, 'nbd.sock') },
    ];
    const opened = await openTlsIncoming({
      cookie: { ...cookie, ...overrides },
      streams,
      listenHost: '127.0.0.1',
      portRange: [49152, 49215],
      log: () => undefined,
    });
    ends.push(opened.end);
    return { qemu, nbd, endpoint: opened.endpoint };
  }
  const psk = (stream: string) => streamKey(cookie, 'tls-psk', stream);

  it('carries each stream over its own connection both ways, with an ephemeral key share, then stops listening', async () => {
    const { qemu, nbd, endpoint } = await incoming();
    expect(endpoint.port).toBeGreaterThanOrEqual(49152);
    const lines: string[] = [];
    const sockets = [
      { path: join(dir, 'out.sock'), streams: ['ram', 'multifd-0'] },
      { path: join(dir, 'out-disk-vda.sock'), streams: ['disk-vda'] },
    ];
    const outgoing = await openTlsOutgoing({ cookie, endpoint, sockets, log: (line) => lines.push(line) });
    ends.push(outgoing.end);
    const payload = randomBytes(2 * 1024 * 1024);
    const backs = ['', '', ''];
    for (const [i, path] of [join(dir, 'out.sock'), join(dir, 'out.sock'), join(dir, 'out-disk-vda.sock')].entries()) {
      const client = createConnection(path);
      client.on('data', (chunk: Buffer) => (backs[i] += chunk.toString()));
      client.end(payload);
    }
    await waitFor(
      () =>
        qemu.received().length === 2 * payload.length &&
        nbd.received().length === payload.length &&
        backs.every((back) => back === 'ack'),
    );
    expect(qemu.connections).toHaveLength(2);
    expect(nbd.received().equals(payload)).toBe(true);
    expect(lines.join('\n')).toMatch(/tls stream multifd-0 .*TLS_AES_128_GCM_SHA256, key share X25519/);
    expect(outgoing.failure()).toBeUndefined();
    // The set is complete: the listener is closed, and a third client on out.sock finds nobody.
    const refused = await new Promise<boolean>((resolve) =>
      connect(endpoint.port, '127.0.0.1')
        .once('error', () => resolve(true))
        .once('connect', () => resolve(false)),
    );
    expect(refused).toBe(true);
    await expect(
      new Promise((resolve, reject) =>
        createConnection(join(dir, 'out.sock')).once('connect', resolve).once('error', reject),
      ),
    ).rejects.toThrow();
  });

  it("refuses a wrong key, another stream's key, an unknown or extra stream, raw TCP; a duplicate once taken; and the rest still gets in", async () => {
    const { qemu, nbd, endpoint } = await incoming();
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'ram'), randomBytes(32))).toBe('refused');
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'ram'), psk('multifd-0'))).toBe('refused');
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'ram'), Buffer.from(cookie.secret, 'hex'))).toBe('refused');
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'multifd-1'), psk('multifd-1'))).toBe('refused');
    expect(await attempt(endpoint.port, tlsIdentity('00000000-1b2d-4c3e-8f9a-0a1b2c3d4e5f', 'ram'), psk('ram'))).toBe(
      'refused',
    );
    expect(await attempt(endpoint.port, ID, psk('ram'))).toBe('refused');
    await new Promise<void>((resolve) => {
      const raw = connect(endpoint.port, '127.0.0.1', () => raw.write('GET / HTTP/1.0\r\n\r\n'));
      raw.on('error', () => undefined).once('close', () => resolve());
    });
    expect(qemu.connections).toHaveLength(0);
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'ram'), psk('ram'))).toBe('secure');
    await waitFor(() => qemu.connections.length === 1);
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'ram'), psk('ram'))).toBe('refused');
    expect(qemu.connections).toHaveLength(1);
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'disk-vda'), psk('disk-vda'))).toBe('secure');
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'multifd-0'), psk('multifd-0'))).toBe('secure');
    await waitFor(() => qemu.connections.length === 2 && nbd.connections.length === 1);
  });

  it("delivers a multifd stream to QEMU's socket only after ram (QEMU 7.2 takes the first connection as the main channel)", async () => {
    const { qemu, endpoint } = await incoming();
    const early = attempt(endpoint.port, tlsIdentity(ID, 'multifd-0'), psk('multifd-0'), 'multifd-0');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(qemu.connections).toHaveLength(0);
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'ram'), psk('ram'), 'ram')).toBe('secure');
    expect(await early).toBe('secure');
    await waitFor(() => qemu.connections.length === 2);
    expect(qemu.firstBytes()).toEqual(['ram', 'multifd-0']);
  });

  it('refuses an expired cookie', async () => {
    const { qemu, endpoint } = await incoming({ expiresAt: Date.now() - 1 });
    expect(await attempt(endpoint.port, tlsIdentity(ID, 'ram'), psk('ram'))).toBe('refused');
    expect(qemu.connections).toHaveLength(0);
  });

  it('reports why a stream failed when the destination is not there', async () => {
    const outgoing = await openTlsOutgoing({
      cookie,
      endpoint: { host: '127.0.0.1', port: 1 },
      sockets: [{ path: join(dir, 'out.sock'), streams: ['ram'] }],
      log: () => undefined,
    });
    ends.push(outgoing.end);
    const source = createConnection(join(dir, 'out.sock'));
    await new Promise((resolve) => source.on('error', resolve).once('close', resolve));
    expect(outgoing.failure()).toMatch(/tls stream ram to 127\.0\.0\.1:1 failed: .*ECONNREFUSED/);
  });
});
