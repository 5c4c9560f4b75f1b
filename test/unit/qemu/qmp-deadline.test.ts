// Every QMP command has a deadline: against a fake QEMU that greets and then never answers (as a QEMU stuck on
// storage does), or never greets at all (stopped), the caller gets an error naming the command, in time.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { QmpClient, qmpCommandTimeoutMs, qmpOnce } from '../../../src/qemu/qmp.js';
import { QmpTimeoutError } from '../../../src/qemu/qmp-protocol.js';

const dir = mkdtempSync(join(tmpdir(), 'vmig-qmp-deadline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A fake QEMU monitor: greets (unless `greet` is false), answers qmp_capabilities and `answered`, ignores the rest. */
async function fakeQemu(name: string, options: { greet: boolean; answered?: string[] }): Promise<string> {
  const path = join(dir, name);
  const server = createServer((socket) => {
    sockets.push(socket);
    if (!options.greet) return;
    socket.write(
      '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n',
    );
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString();
      for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
        const { execute, id } = JSON.parse(buffered.slice(0, newline)) as { execute: string; id: string };
        buffered = buffered.slice(newline + 1);
        if (execute === 'qmp_capabilities' || options.answered?.includes(execute))
          socket.write(`${JSON.stringify({ return: {}, id })}\r\n`);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return path;
}

async function timed<T>(promise: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return { error, ms: Date.now() - started };
}

describe('QMP command deadlines', () => {
  it('a connected client whose QEMU stops answering: the command fails after its deadline, naming it', async () => {
    const path = await fakeQemu('stuck.sock', { greet: true, answered: ['query-status'] });
    const client = await QmpClient.connect(path, { commandTimeoutMs: 300 });
    try {
      await expect(client.execute('query-status')).resolves.toEqual({});
      const { error, ms } = await timed(client.execute('query-migrate'));
      expect(error).toBeInstanceOf(QmpTimeoutError);
      expect((error as Error).message).toBe('QEMU did not answer query-migrate within 0.3 s');
      expect(ms).toBeGreaterThanOrEqual(280);
      expect(ms).toBeLessThan(3_000);
      // A per-call deadline overrides the client's.
      expect((await timed(client.execute('query-migrate', undefined, { timeoutMs: 100 }))).error).toMatchObject({
        command: 'query-migrate',
        timeoutMs: 100,
      });
    } finally {
      client.close();
    }
  });

  it('qmpOnce against a QEMU that never greets (stopped): fails in time, naming the command', async () => {
    const path = await fakeQemu('stopped.sock', { greet: false });
    const { error, ms } = await timed(qmpOnce(path, 'query-status', undefined, 300));
    expect(error).toBeInstanceOf(QmpTimeoutError);
    expect((error as Error).message).toBe('QEMU did not answer query-status within 0.3 s');
    expect(ms).toBeLessThan(3_000);
  });

  it('qmpOnce against a QEMU that greets but never answers the command', async () => {
    const path = await fakeQemu('silent.sock', { greet: true });
    const { error } = await timed(qmpOnce(path, 'query-status', undefined, 300));
    expect((error as Error).message).toBe('QEMU did not answer query-status within 0.3 s');
  });

  it('defaults to 10 s, overridden by VMIG_QMP_TIMEOUT_MS', () => {
    expect(qmpCommandTimeoutMs({})).toBe(10_000);
    expect(qmpCommandTimeoutMs({ VMIG_QMP_TIMEOUT_MS: '2500' })).toBe(2_500);
  });
});
