// The ssh transport's three parts on real unix sockets: the source end writes the header, the controller
// relays (here as for a `local` host, without SSH), the destination end checks the header before QEMU.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostConnection } from '../../../src/hosts/connection.js';
import { mintCookie, type Cookie } from '../../../src/transports/cookie.js';
import { openSshIncoming, openSshOutgoing, relayBetween } from '../../../src/transports/ssh-relay.js';
import { streamHeader } from '../../../src/transports/stream-header.js';
import type { TunnelEnd } from '../../../src/transports/tls.js';
import { fakeQemu, waitFor } from './fixtures.js';

const localHost = { label: 'local', ssh: undefined } as unknown as HostConnection;

/** Sends `data` to the socket and resolves once the other side has closed it. */
const sendAndWaitClose = (path: string, data: string | Buffer) =>
  new Promise<void>((resolve) => {
    const socket = createConnection(path, () => socket.write(data));
    socket.on('error', () => undefined).once('close', () => resolve());
  });

describe('ssh relay tunnel', () => {
  let dir: string;
  let cookie: Cookie;
  let qemu: Awaited<ReturnType<typeof fakeQemu>>;
  const ends: TunnelEnd[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmig-ssh-'));
    cookie = mintCookie('5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f', 'ssh', undefined);
    qemu = await fakeQemu(join(dir, 'in.sock'));
    ends.push(await openSshIncoming({ cookie, socketPath: join(dir, 'dst.sock'), qemuSocket: join(dir, 'in.sock'), log: () => undefined }));
  });
  afterEach(async () => {
    for (const end of ends.splice(0)) await end.close();
    qemu.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('relays the stream both ways after the header, and takes only one stream', async () => {
    const outgoing = await openSshOutgoing({ cookie, outPath: join(dir, 'out.sock'), relayPath: join(dir, 'relay.sock'), log: () => undefined });
    ends.push(outgoing.end);
    const relay = await relayBetween(localHost, join(dir, 'relay.sock'), localHost, join(dir, 'dst.sock'));
    const payload = randomBytes(4 * 1024 * 1024);
    const source = createConnection(join(dir, 'out.sock'));
    let back = '';
    source.on('data', (chunk: Buffer) => (back += chunk.toString()));
    source.end(payload);
    await waitFor(() => qemu.received().length === payload.length && back === 'ack');
    expect(qemu.received().equals(payload)).toBe(true);
    expect(qemu.connections).toHaveLength(1);
    expect(outgoing.failure()).toBeUndefined();
    // A second stream, even with a valid header, finds no listener any more.
    await expect(sendAndWaitClose(join(dir, 'dst.sock'), streamHeader(cookie))).resolves.toBeUndefined();
    expect(qemu.connections).toHaveLength(1);
    relay.close();
  });

  it('drops streams without a valid header before QEMU sees them', async () => {
    const other = mintCookie(cookie.migrationId, 'ssh', undefined);
    await sendAndWaitClose(join(dir, 'dst.sock'), `${streamHeader(other)}QEVM`);
    await sendAndWaitClose(join(dir, 'dst.sock'), Buffer.alloc(1024, 0x41));
    await sendAndWaitClose(join(dir, 'dst.sock'), 'QEVM\n');
    expect(qemu.connections).toHaveLength(0);
    // The migration is not disturbed: the right header still gets through, followed by QEMU's bytes.
    const socket = createConnection(join(dir, 'dst.sock'), () => socket.write(`${streamHeader(cookie)}QEVM`));
    await waitFor(() => qemu.received().toString() === 'QEVM');
    socket.destroy();
  });
});
