// The ssh transport on real unix sockets: the controller's relay (here as for a `local` host, without SSH)
// listens on the source sockets and proves each stream; the destination end challenges every connection.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { relayStreams } from '../../../src/controller/stream-relay.js';
import type { HostConnection } from '../../../src/hosts/connection.js';
import { mintCookie, type Cookie } from '../../../src/transports/cookie.js';
import { openSshIncoming, readLine } from '../../../src/transports/ssh-relay.js';
import { parseChallenge, proofLine } from '../../../src/transports/stream-proof.js';
import type { TunnelEnd } from '../../../src/transports/tunnel.js';
import { fakeQemu, waitFor } from './fixtures.js';

const localHost = { label: 'local', ssh: undefined } as unknown as HostConnection;
const ID = '5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f';

/** Connects to the destination socket, answers its challenge with `answer(nonce)`, sends `data`; resolves with the socket and whether it stayed open. */
async function present(
  path: string,
  answer: (nonce: string) => string,
  data = 'QEVM',
): Promise<{ socket: Socket; accepted: boolean }> {
  const socket = createConnection(path);
  socket.on('error', () => undefined);
  const nonce = parseChallenge(await readLine(socket));
  socket.resume();
  socket.write(`${answer(nonce!)}${data}`);
  const accepted = await new Promise<boolean>((resolve) => {
    socket.once('close', () => resolve(false));
    setTimeout(() => resolve(!socket.destroyed), 300);
  });
  return { socket, accepted };
}

describe('ssh relay, one relayed connection per stream', () => {
  let dir: string;
  let cookie: Cookie;
  let qemu: Awaited<ReturnType<typeof fakeQemu>>;
  let nbd: Awaited<ReturnType<typeof fakeQemu>>;
  const ends: TunnelEnd[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmig-ssh-'));
    cookie = {
      ...mintCookie(ID, 'ssh', undefined, Date.now(), ['ram', 'multifd-0', 'disk-vda']),
      socketPath: join(dir, 'dst.sock'),
    };
    qemu = await fakeQemu(join(dir, 'in.sock'));
    nbd = await fakeQemu(join(dir, 'nbd.sock'));
    const streams = [
      { id: 'ram', socket: join(dir, 'in.sock') },
      { id: 'multifd-0', socket: join(dir, 'in.sock') },
      { id: 'disk-vda', socket: join(dir, 'nbd.sock') },
    ];
    ends.push(await openSshIncoming({ cookie, socketPath: join(dir, 'dst.sock'), streams, log: () => undefined }));
  });
  afterEach(async () => {
    for (const end of ends.splice(0)) await end.close();
    qemu.server.close();
    nbd.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('relays every stream both ways after its proof, then stops listening', async () => {
    const sockets = [
      { path: join(dir, 'out.sock'), streams: ['ram', 'multifd-0'] },
      { path: join(dir, 'out-disk-vda.sock'), streams: ['disk-vda'] },
    ];
    const relay = await relayStreams({ source: localHost, destination: localHost, cookie, sockets });
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
    expect(nbd.received().equals(payload)).toBe(true);
    expect(qemu.connections).toHaveLength(2);
    expect(relay.failure()).toBeUndefined();
    // Every stream taken: neither the destination nor the source sockets listen any more.
    await expect(
      new Promise((resolve, reject) =>
        createConnection(join(dir, 'dst.sock')).once('connect', resolve).once('error', reject),
      ),
    ).rejects.toThrow();
    await expect(
      new Promise((resolve, reject) =>
        createConnection(join(dir, 'out.sock')).once('connect', resolve).once('error', reject),
      ),
    ).rejects.toThrow();
    await relay.close();
  });

  it('delivers a multifd stream that proved itself before ram only after ram (QEMU 7.2 takes the first as main)', async () => {
    const multifd = await present(cookie.socketPath!, (nonce) => proofLine(cookie, 'multifd-0', nonce), 'MULTIFD');
    expect(multifd.accepted).toBe(true);
    expect(qemu.connections).toHaveLength(0);
    const ram = await present(cookie.socketPath!, (nonce) => proofLine(cookie, 'ram', nonce), 'RAM');
    expect(ram.accepted).toBe(true);
    await waitFor(() => qemu.firstBytes().length === 2 && qemu.firstBytes().every((bytes) => bytes.length > 0));
    expect(qemu.firstBytes()).toEqual(['RAM', 'MULTIFD']);
    multifd.socket.destroy();
    ram.socket.destroy();
  });

  it('refuses a wrong key, a replayed proof, an unknown stream and garbage; a duplicate once taken; the others still get in', async () => {
    const wrong = mintCookie(ID, 'ssh', undefined);
    expect((await present(cookie.socketPath!, (nonce) => proofLine(wrong, 'ram', nonce))).accepted).toBe(false);
    expect((await present(cookie.socketPath!, (nonce) => proofLine(cookie, 'multifd-1', nonce))).accepted).toBe(false);
    expect((await present(cookie.socketPath!, () => 'QEVM\n')).accepted).toBe(false);
    expect((await present(cookie.socketPath!, () => 'x'.repeat(1024))).accepted).toBe(false);
    expect(qemu.connections).toHaveLength(0);
    let recorded = '';
    const first = await present(cookie.socketPath!, (nonce) => (recorded = proofLine(cookie, 'ram', nonce)));
    expect(first.accepted).toBe(true);
    await waitFor(() => qemu.received().toString() === 'QEVM');
    // The same proof on a new connection answers a nonce that is not this one's.
    expect((await present(cookie.socketPath!, () => recorded)).accepted).toBe(false);
    expect((await present(cookie.socketPath!, (nonce) => proofLine(cookie, 'ram', nonce))).accepted).toBe(false);
    expect(qemu.connections).toHaveLength(1);
    const disk = await present(cookie.socketPath!, (nonce) => proofLine(cookie, 'disk-vda', nonce), 'NBD');
    expect(disk.accepted).toBe(true);
    await waitFor(() => nbd.received().toString() === 'NBD');
    first.socket.destroy();
    disk.socket.destroy();
  });
});
