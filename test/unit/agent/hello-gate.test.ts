// The real agent (the built CLI's `vmig agent`) serves nothing before a successful hello: a peer that skips it,
// or whose hello is refused, gets a refusal for every other method (npm run test:unit builds first).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../../src/protocol/messages.js';

const root = join(import.meta.dirname, '..', '..', '..');
const stateDir = mkdtempSync(join(tmpdir(), 'vmig-hello-gate-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

type Reply = { result?: unknown; error?: { code: string; message: string } };

/** Sends each request once the one before it was answered, then closes the agent's input; returns the replies by id. */
async function converse(
  requests: Array<{ id: number; method: string; params?: unknown }>,
): Promise<Map<number, Reply>> {
  const agent = spawn(process.execPath, [join(root, 'bin', 'vmig'), 'agent'], {
    env: { PATH: process.env.PATH, VMIG_STATE_DIR: stateDir, VMIG_QEMU: '/bin/false' },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const exited = new Promise((resolve) => agent.once('exit', resolve));
  const replies = new Map<number, Reply>();
  let answered: (() => void) | undefined;
  createInterface({ input: agent.stdout }).on('line', (line) => {
    const reply = JSON.parse(line) as Reply & { id?: number };
    if (typeof reply.id !== 'number') return;
    replies.set(reply.id, reply);
    answered?.();
  });
  try {
    for (const request of requests) {
      const reply = new Promise<void>((resolve, reject) => {
        answered = resolve;
        setTimeout(() => reject(new Error(`no reply to ${request.method}`)), 8_000).unref();
      });
      agent.stdin.write(`${JSON.stringify(request)}\n`);
      await reply;
    }
  } finally {
    agent.stdin.end();
    await exited;
  }
  return replies;
}

const hello = (id: number, protocol = PROTOCOL_VERSION) => ({
  id,
  method: 'hello',
  params: { protocol, version: '0', label: 'h1' },
});

describe.skipIf(!existsSync(join(root, 'dist', 'cli', 'main.js')))(
  'agent hello gate',
  () => {
    it('refuses every method before hello, and after a refused hello', async () => {
      const replies = await converse([
        { id: 1, method: 'domain.list', params: {} },
        hello(2, PROTOCOL_VERSION + 99),
        { id: 3, method: 'ping' },
      ]);
      expect(replies.get(1)?.error).toMatchObject({
        code: 'PROTOCOL_MISMATCH',
        message: 'domain.list before a successful hello: refused',
      });
      expect(replies.get(2)?.error?.code).toBe('PROTOCOL_MISMATCH');
      expect(replies.get(3)?.error).toMatchObject({
        code: 'PROTOCOL_MISMATCH',
        message: 'ping before a successful hello: refused',
      });
    });

    it('serves methods once hello has succeeded', async () => {
      const replies = await converse([
        hello(1),
        { id: 2, method: 'domain.list', params: {} },
        { id: 3, method: 'ping' },
      ]);
      expect(replies.get(1)?.result).toMatchObject({ protocol: PROTOCOL_VERSION });
      expect(replies.get(2)).toEqual({ id: 2, result: [] });
      expect(replies.get(3)).toEqual({ id: 3, result: {} });
    });
  },
  20_000,
);
