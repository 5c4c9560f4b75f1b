// The stream set end to end in the lab (real QEMU, real sshd, real TLS): --parallel 3 over every transport, each
// multifd channel its own proven stream; the destination refuses wrong keys, replayed proofs, duplicate and
// extra streams without disturbing the migration; a stream cut mid-copy fails the migration cleanly.
import { readdir, readFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import type { Cookie } from '../../src/transports/cookie.js';
import { readLine } from '../../src/transports/ssh-relay.js';
import { streamKey, tlsIdentity } from '../../src/transports/stream-keys.js';
import { parseChallenge, proofLine } from '../../src/transports/stream-proof.js';
import {
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  guestDefinition,
  guestStatus,
  qemuPids,
  agentForSuite,
  startGuest,
} from './support.js';
import { migrationConnections, tlsClient } from './support-wire.js';

/** The stream pump processes of a lab host's agents (transports/pumps.ts), oldest first, found by their state dir. */
async function pumpPidsOf(stateDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('pump-process.js')) continue;
      const environ = (await readFile(`/proc/${entry}/environ`, 'utf8')).split('\0');
      if (environ.includes(`VMIG_STATE_DIR=${stateDir}`)) pids.push(Number(entry));
    } catch {
      // Gone while we looked: not a pump any more.
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Connects to the destination agent's relay socket, answers its challenge with `answer`, sends a few bytes; whether it stayed open. */
async function presentProof(
  path: string,
  answer: (nonce: string) => string,
): Promise<{ socket: Socket; accepted: boolean }> {
  const socket = createConnection(path);
  socket.on('error', () => undefined);
  const nonce = parseChallenge(await readLine(socket));
  socket.resume();
  socket.write(answer(nonce!));
  const accepted = await new Promise<boolean>((resolve) => {
    socket.once('close', () => resolve(false));
    setTimeout(() => resolve(!socket.destroyed), 500);
  });
  return { socket, accepted };
}

describe('stream set', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
  }, 180_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it('tls --parallel 3: four streams, each its own proven TLS connection, the guest intact on h2 only', async () => {
    const before = await startGuest(lab, 'h1', 'p1');
    const result = expectOk(
      await lab.vmig(['-c', 'h1', 'migrate', 'p1', 'h2', '--transport', 'tls', '--parallel', '3']),
    );
    expect(result.stdout).toMatch(/^Migrated p1 to h2 over tls:/m);
    await expectRunsOnlyOn(lab, 'h2', 'p1');
    await expectGuestContinued(lab, 'h2', 'p1', before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    const log = await readFile(join(lab.hosts.h2!.stateDir, 'agent.log'), 'utf8');
    for (const stream of ['ram', 'multifd-0', 'multifd-1', 'multifd-2'])
      expect(log).toMatch(new RegExp(`tls stream ${stream} of migration \\S+: \\S+ authenticated`));
  });

  it('ssh --parallel 3: four relayed streams back to h1, the guest intact on h1 only', async () => {
    const before = await guestStatus(lab, 'h2', 'p1');
    const result = expectOk(
      await lab.vmig(['-c', 'h2', 'migrate', 'p1', 'h1', '--transport', 'ssh', '--parallel', '3']),
    );
    expect(result.stdout).toMatch(/^Migrated p1 to h1 over ssh:/m);
    await expectRunsOnlyOn(lab, 'h1', 'p1');
    await expectGuestContinued(lab, 'h1', 'p1', before);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
    const log = await readFile(join(lab.hosts.h1!.stateDir, 'agent.log'), 'utf8');
    for (const stream of ['ram', 'multifd-0', 'multifd-1', 'multifd-2'])
      expect(log).toMatch(new RegExp(`ssh stream ${stream} of migration \\S+: authenticated`));
  });

  it('direct --parallel 3: still QEMU to QEMU, intact on h2 only', async () => {
    const before = await guestStatus(lab, 'h1', 'p1');
    expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'p1', 'h2', '--direct', '--parallel', '3']));
    await expectRunsOnlyOn(lab, 'h2', 'p1');
    await expectGuestContinued(lab, 'h2', 'p1', before);
  });

  // Two ways one stream can break mid-copy: its connection is cut on the destination, or the source's pump process
  // that carries it dies (transports/pumps.ts). Either fails the migration cleanly.
  const breakers: Array<[string, (h2Connections: Array<{ peer: string; peerPort: number }>) => Promise<void>]> = [
    [
      'one stream cut mid-copy',
      async (connections) => {
        const victim = connections[1]!;
        expectOk(await lab.exec('h2', ['ss', '-K', '-tn', 'dst', victim.peer, 'dport', '=', `:${victim.peerPort}`]));
      },
    ],
    [
      "one stream's pump process killed mid-copy",
      async () => {
        const pumps = await pumpPidsOf(lab.hosts.h1!.stateDir);
        expect(pumps, 'one pump per stream (ram, multifd-0, multifd-1) on h1').toHaveLength(3);
        process.kill(pumps[1]!, 'SIGKILL');
      },
    ],
  ];
  it.each(breakers)(
    '%s: exit 1, the guest runs on intact on the source, nothing left on the destination',
    async (name, breakOne) => {
      const guest = name.includes('pump') ? 'p3' : 'p2';
      const before = await startGuest(lab, 'h1', guest, { append: 'dirty=0' });
      // 64 MiB at 4 MiB/s: ~16 s of copying, time enough to break one stream.
      const run = lab.spawnVmig(
        ['-c', 'h1', 'migrate', guest, 'h2', '--transport', 'tls', '--parallel', '2', '--bandwidth', '4'],
        { timeoutMs: 180_000 },
      );
      try {
        await run.waitForLine(/^perform: /m, { stream: 'stderr', timeoutMs: 60_000 });
        let connections: Awaited<ReturnType<typeof migrationConnections>> = [];
        for (let attempt = 0; attempt < 100 && connections.length < 3; attempt++) {
          connections = await migrationConnections(lab, 'h2');
          if (connections.length < 3) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(connections, 'three streams (ram, multifd-0, multifd-1) on h2').toHaveLength(3);
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await breakOne(connections);
      } finally {
        const result = await run.wait();
        expect(result.exitCode, result.stderr).toBe(1);
        expect(result.stderr).toMatch(new RegExp(`vmig: error: .*${guest} is still running on h1`));
      }
      await expectRunsOnlyOn(lab, 'h1', guest);
      await expectGuestContinued(lab, 'h1', guest, before);
      expect(await qemuPids(lab, 'h2')).toHaveLength(1);
      // No pump outlives its migration, on either host.
      expect(await pumpPidsOf(lab.hosts.h1!.stateDir)).toEqual([]);
      expect(await pumpPidsOf(lab.hosts.h2!.stateDir)).toEqual([]);
    },
  );

  describe('the destination agent at the protocol level', () => {
    const rpc = agentForSuite(() => lab, 'h2');
    const h2 = () => lab.hosts.h2!;
    const definition = guestDefinition('gs', '7d3c1f00-0000-4000-8000-0000000000cc');

    it("tls: refuses a wrong key, another stream's key, one stream too many and a duplicate; takes each expected stream once, then stops listening", async () => {
      const migrationId = '7d3c1f00-0000-4000-8000-00000000aa02';
      const { cookie } = await rpc().call<{ cookie: Cookie }>('migrate.prepare', {
        migrationId,
        definition,
        accel: 'tcg',
        peer: 'test',
        transport: 'tls',
        listenAddress: h2().ipv4,
        convergence: { parallel: 2 },
      });
      try {
        expect(cookie.streams).toEqual(['ram', 'multifd-0', 'multifd-1']);
        const { host, port } = cookie.endpoint!;
        const key = (stream: string) => streamKey(cookie, 'tls-psk', stream).toString('hex');
        const client = (stream: string, psk: string, holdMs = 0) =>
          tlsClient(lab, 'h1', { host, port, identity: tlsIdentity(migrationId, stream), key: psk, holdMs });
        expect((await client('ram', 'cd'.repeat(32))).stdout.trim()).toMatch(/^(refused|closed)/);
        expect((await client('ram', key('multifd-0'))).stdout.trim()).toMatch(/^(refused|closed)/);
        expect((await client('multifd-2', key('multifd-2'))).stdout.trim()).toMatch(/^(refused|closed)/);
        const ram = client('ram', key('ram'), 12_000);
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        expect((await client('ram', key('ram'))).stdout.trim()).toMatch(/^(refused|closed)/);
        const multifd = [client('multifd-0', key('multifd-0'), 4_000), client('multifd-1', key('multifd-1'), 4_000)];
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        // The set is complete: nobody listens any more.
        expect(await lab.tcpConnect('h1', host, port)).toBe('refused');
        for (const accepted of await Promise.all([ram, ...multifd])) expect(accepted.stdout.trim()).toBe('held');
      } finally {
        await rpc().call('migrate.abort', { migrationId });
      }
      const log = await readFile(join(h2().stateDir, 'agent.log'), 'utf8');
      expect(log).not.toContain(cookie.secret);
    });

    it('ssh: refuses a wrong key, a replayed proof, one stream too many and a duplicate; takes each expected stream once', async () => {
      const migrationId = '7d3c1f00-0000-4000-8000-00000000aa03';
      const { cookie } = await rpc().call<{ cookie: Cookie }>('migrate.prepare', {
        migrationId,
        definition,
        accel: 'tcg',
        peer: 'test',
        transport: 'ssh',
        convergence: { parallel: 2 },
      });
      const open: Socket[] = [];
      try {
        const path = cookie.socketPath!;
        const wrong = { migrationId, secret: 'ab'.repeat(32) };
        expect((await presentProof(path, (nonce) => proofLine(wrong, 'ram', nonce))).accepted).toBe(false);
        expect((await presentProof(path, (nonce) => proofLine(cookie, 'multifd-2', nonce))).accepted).toBe(false);
        let recorded = '';
        const ram = await presentProof(path, (nonce) => (recorded = proofLine(cookie, 'ram', nonce)));
        open.push(ram.socket);
        expect(ram.accepted).toBe(true);
        expect((await presentProof(path, () => recorded)).accepted).toBe(false);
        expect((await presentProof(path, (nonce) => proofLine(cookie, 'ram', nonce))).accepted).toBe(false);
        for (const stream of ['multifd-0', 'multifd-1']) {
          const proven = await presentProof(path, (nonce) => proofLine(cookie, stream, nonce));
          open.push(proven.socket);
          expect(proven.accepted, stream).toBe(true);
        }
        await expect(
          new Promise((resolve, reject) => createConnection(path).once('connect', resolve).once('error', reject)),
        ).rejects.toThrow();
      } finally {
        for (const socket of open) socket.destroy();
        await rpc().call('migrate.abort', { migrationId });
      }
      const log = await readFile(join(h2().stateDir, 'agent.log'), 'utf8');
      expect(log).toMatch(/refused a stream \(the proof for stream ram does not prove the cookie\)/);
      expect(log).toMatch(/refused a stream \(multifd-2 is not a stream of this migration\)/);
      expect(log).toMatch(/refused a stream \(stream ram was already accepted\)/);
    });
  });
});
