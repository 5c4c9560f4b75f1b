// The tunnel listener helpers on a real unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acceptEach, listenUnix, OpenSockets } from '../../../src/transports/listeners.js';

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => socket.on('error', () => undefined).once('close', () => resolve()));

describe('tunnel listeners', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmig-listeners-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hands over the first connection of a one-stream socket only, stops listening, and destroys what is open on demand', async () => {
    const path = join(dir, 'one.sock');
    const server = createServer();
    const open = new OpenSockets();
    const accepted: Socket[] = [];
    acceptEach(server, open, 1, (socket: Socket) => accepted.push(socket));
    await listenUnix(server, path);
    const first = createConnection(path);
    await new Promise((resolve) => first.once('connect', resolve));
    // server.close() stops listening at once; its 'close' event waits for the accepted connection to end.
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.listening).toBe(false);
    expect(accepted).toHaveLength(1);
    // The listener is gone: a second client cannot connect at all.
    const second = createConnection(path);
    await expect(
      new Promise((resolve, reject) => second.once('connect', resolve).once('error', reject)),
    ).rejects.toThrow();
    open.destroyAll();
    await closed(first);
    expect(accepted[0]!.destroyed).toBe(true);
  });

  it('replaces a stale socket file', async () => {
    const path = join(dir, 'stale.sock');
    const stale = createServer();
    await listenUnix(stale, path);
    // Simulates a crashed run: the file stays, nobody listens.
    stale.close();
    const fresh = createServer();
    await expect(listenUnix(fresh, path)).resolves.toBeUndefined();
    fresh.close();
  });
});
