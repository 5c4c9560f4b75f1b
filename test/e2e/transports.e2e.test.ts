// The three data planes end to end in the lab (real sshd, real QEMU, real TLS): each moves the self-checking
// guest intact; the default is encrypted; auto falls back to the SSH relay behind a firewall; the TLS listener
// takes exactly one authenticated connection; no secret shows in any process's argv or environment.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import type { Cookie } from '../../src/transports/cookie.js';
import { streamKey, tlsIdentity } from '../../src/transports/stream-keys.js';
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
import { HEX_SECRET, opensslWithWrongKey, portsInRange, secretsInProcesses, tlsClient } from './support-wire.js';

describe('tunnelled transports', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'], ipv6: true });
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('tls: moves the guest h1 → h2 over TLS 1.3 with the one-time key', async () => {
    const before = await startGuest(lab, 'h1', 'g1');
    const result = expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--transport', 'tls']));
    expect(result.stdout).toMatch(/^Migrated g1 to h2 over tls:/m);
    expect(result.stderr).toMatch(/^prepare: transport tls \(encrypted\): --transport tls was given/m);
    expect(result.stderr).not.toMatch(/unencrypted/);
    await expectRunsOnlyOn(lab, 'h2', 'g1');
    await expectGuestContinued(lab, 'h2', 'g1', before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    // Agents log the tunnel, never the key.
    const log = await readFile(join(lab.hosts.h2!.stateDir, 'agent.log'), 'utf8');
    expect(log).toMatch(/tls stream ram of migration .* authenticated/);
    expect(log.match(HEX_SECRET)).toBeNull();
  });

  it("ssh: moves it back h2 → h1 through the controller's SSH connections", async () => {
    const before = await guestStatus(lab, 'h2', 'g1');
    const result = expectOk(await lab.vmig(['-c', 'h2', 'migrate', 'g1', 'h1', '--transport', 'ssh']));
    expect(result.stdout).toMatch(/^Migrated g1 to h1 over ssh:/m);
    await expectRunsOnlyOn(lab, 'h1', 'g1');
    await expectGuestContinued(lab, 'h1', 'g1', before);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
    const log = await readFile(join(lab.hosts.h1!.stateDir, 'agent.log'), 'utf8');
    expect(log).toMatch(/ssh stream ram of migration .*: authenticated/);
  });

  it('direct: still moves it h1 → h2, with the warning', async () => {
    const before = await guestStatus(lab, 'h1', 'g1');
    const result = expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']));
    expect(result.stdout).toMatch(/^Migrated g1 to h2 over direct \(unencrypted\)/m);
    expect(result.stderr).toMatch(/warning: the direct transport sends guest memory unencrypted/);
    await expectRunsOnlyOn(lab, 'h2', 'g1');
    await expectGuestContinued(lab, 'h2', 'g1', before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
  });

  it('no flag: encrypted by default (auto picks tls), here to an IPv6 endpoint given by --migrate-uri', async () => {
    const before = await guestStatus(lab, 'h2', 'g1');
    const v6 = lab.hosts.h1!.ipv6!;
    const result = expectOk(
      await lab.vmig(['-c', 'h2', '--json', 'migrate', 'g1', 'h1', '--migrate-uri', `tcp:[${v6}]`]),
    );
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: 'start', transport: 'auto' });
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'completed', transport: 'tls', encrypted: true });
    const chosen = events.find((event) => event.type === 'phase' && String(event.detail).startsWith('transport '));
    expect(chosen?.detail).toMatch(
      new RegExp(
        `^transport tls \\(encrypted\\): encrypted by default; the source reaches the destination's TLS endpoint \\[${v6}\\]:\\d+$`,
      ),
    );
    expect(events.some((event) => event.type === 'warning')).toBe(false);
    await expectRunsOnlyOn(lab, 'h1', 'g1');
    await expectGuestContinued(lab, 'h1', 'g1', before);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
  });

  it("--tunnelled falls back to ssh when the destination's migration ports are firewalled, and says why", async () => {
    const before = await guestStatus(lab, 'h1', 'g1');
    await lab.blockPorts('h2', 49152, 49215);
    try {
      const result = expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--tunnelled']));
      expect(result.stderr).toMatch(
        /^prepare: transport ssh \(encrypted\): --tunnelled; the source cannot reach the destination's TLS endpoint [\d.]+:\d+ \(no answer from .* within 2 s\), so the stream is relayed over the SSH connections$/m,
      );
      expect(result.stdout).toMatch(/^Migrated g1 to h2 over ssh:/m);
    } finally {
      await lab.unblockPorts('h2');
    }
    await expectRunsOnlyOn(lab, 'h2', 'g1');
    await expectGuestContinued(lab, 'h2', 'g1', before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
  });

  it('during a tls migration: the listener is gone, a wrong PSK and raw TCP are refused, no secret in any argv or environment, and the guest arrives intact', async () => {
    // dirty=0: the guest only verifies, so the capped stream converges; 64 MiB at 4 MiB/s copies for ~16 s.
    const before = await startGuest(lab, 'h1', 'g2', { append: 'dirty=0' });
    const vmig = lab.spawnVmig(['-c', 'h1', 'migrate', 'g2', 'h2', '--transport', 'tls', '--bandwidth', '4']);
    try {
      await vmig.waitForLine(/^perform: /m, { stream: 'stderr', timeoutMs: 60_000 });
      let port: number | undefined;
      for (let attempt = 0; attempt < 100 && port === undefined; attempt++) {
        port = (await portsInRange(lab, 'h2', 'established'))[0];
        if (port === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(port, 'the tls tunnel connection on h2').toBeDefined();
      // Exactly one connection: the listener closed behind it.
      expect(await portsInRange(lab, 'h2', 'listening')).toEqual([]);
      const endpoint = `${lab.hosts.h2!.ipv4}:${port}`;
      const wrongKey = await opensslWithWrongKey(lab, 'h1', endpoint);
      expect(wrongKey.exitCode).not.toBe(0);
      expect(wrongKey.stdout).not.toMatch(/Cipher is TLS_/);
      expect(await lab.tcpConnect('h1', lab.hosts.h2!.ipv4, port!)).toBe('refused');
      expect(await secretsInProcesses(lab)).toEqual([]);
      expect(vmig.exited).toBe(false);
    } finally {
      const result = await vmig.wait();
      expectOk(result);
      expect(result.stdout).toMatch(/^Migrated g2 to h2 over tls:/m);
    }
    await expectRunsOnlyOn(lab, 'h2', 'g2');
    await expectGuestContinued(lab, 'h2', 'g2', before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
  });

  describe('the tls listener at the protocol level', () => {
    const rpc = agentForSuite(() => lab, 'h2');
    const h2 = () => lab.hosts.h2!;

    it('refuses a wrong key and raw TCP without disturbing the migration, accepts the cookie once, and refuses its replay', async () => {
      const migrationId = '7d3c1f00-0000-4000-8000-00000000aa01';
      const definition = guestDefinition('gp', '7d3c1f00-0000-4000-8000-0000000000bb');
      const { cookie } = await rpc().call<{ cookie: Cookie }>('migrate.prepare', {
        migrationId,
        definition,
        accel: 'tcg',
        peer: 'test',
        transport: 'tls',
        listenAddress: h2().ipv4,
      });
      try {
        expect(cookie).toMatchObject({ migrationId, transport: 'tls', endpoint: { host: h2().ipv4 } });
        const { host, port } = cookie.endpoint!;
        // The receiving QEMU's sockets live in a directory only root can enter.
        expect((await stat(join(h2().stateDir, 'run', 'gp'))).mode & 0o777).toBe(0o700);
        expect(await secretsInProcesses(lab)).toEqual([]);

        const wrongKey = await opensslWithWrongKey(lab, 'h1', `${host}:${port}`, {
          key: 'cd'.repeat(32),
          identity: migrationId,
        });
        expect(wrongKey.exitCode).not.toBe(0);
        expect(wrongKey.stdout).not.toMatch(/Cipher is TLS_/);
        const garbage = await lab.exec('h1', [
          'timeout',
          '15',
          'bash',
          '-c',
          `exec 3<>/dev/tcp/${host}/${port}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3 | wc -c`,
        ]);
        expect(garbage.stdout.trim()).toBe('0');
        expect(await lab.tcpConnect('h1', host, port)).toBe('ok');

        const ramKey = streamKey(cookie, 'tls-psk', 'ram').toString('hex');
        const client = (key: string, identity = tlsIdentity(migrationId, 'ram')) =>
          tlsClient(lab, 'h1', { host, port, identity, key }, 20_000);
        // The cookie's secret itself is no key: only the key derived for the stream is.
        expect((await client(cookie.secret)).stdout.trim()).toMatch(/^(refused|closed)/);
        // None of that reached QEMU or used up the listener: the cookie's holder still gets the one stream.
        const first = await client(ramKey);
        expect(first.stdout.trim()).toBe('held');
        const replay = await client(ramKey);
        expect(replay.stdout.trim()).toMatch(/^(refused|closed)/);
        expect(replay.exitCode).not.toBe(0);
      } finally {
        await rpc().call('migrate.abort', { migrationId });
      }
      const log = await readFile(join(h2().stateDir, 'agent.log'), 'utf8');
      expect(
        log.match(/tls listener of migration 7d3c1f00-0000-4000-8000-00000000aa01: refused a connection/g)?.length,
      ).toBeGreaterThanOrEqual(2);
      expect(log).not.toContain(cookie.secret);
      // Aborted: the receiving QEMU and its sockets are gone.
      await expect(stat(join(h2().stateDir, 'run', 'gp'))).rejects.toThrow(/ENOENT/);
    });
  });
});
