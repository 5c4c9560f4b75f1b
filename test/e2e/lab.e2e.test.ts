/**
 * Proves the namespace lab itself works: real sshd per host, real OpenSSH
 * client from the controller, IPv4+IPv6 reachability, fault injection and
 * complete cleanup. Deliberately independent of bin/vmig.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, findRepoRoot, sweepStaleLabs } from '../../src/lab/lab.js';
import { spawnProc } from '../../src/lab/proc.js';

const netnsNames = (): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
/** Running (a zombie awaiting its parent's wait() is not running). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('network namespace lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'], repoRoot: findRepoRoot(), ipv6: true });
  }, 60_000);
  afterAll(async () => {
    await lab?.destroy();
  }, 30_000);

  it('gives each host its own sshd, reachable with the real ssh client and lab keys', async () => {
    const seen: string[] = [];
    for (const h of ['h1', 'h2', 'h1-v6', 'h2-v6']) {
      const name = h.replace('-v6', '');
      const r = await lab.exec('controller', [
        'ssh',
        '-F',
        `${lab.home}/.ssh/config`,
        h,
        'echo $VMIG_STATE_DIR; echo $PATH; echo $HOME; echo ok',
      ]);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const [state, path, home, ok] = r.stdout.trim().split('\n');
      expect(state).toBe(lab.hosts[name]?.stateDir);
      expect(path).toBe(lab.path); // SetEnv PATH reached the exec channel unchanged
      expect(path?.split(':')[0]).toBe(`${lab.dir}/bin`);
      expect(home).toBe(lab.hosts[name]?.home);
      expect(ok).toBe('ok');
      seen.push(state ?? '');
    }
    expect(new Set(seen).size).toBe(2);
    // Raw-address form (what sshUri() hands to vmig) verifies against known_hosts too.
    const raw = await lab.ssh(`root@${lab.hosts.h2?.ipv6}`, 'echo $VMIG_STATE_DIR');
    expect(raw.stdout.trim()).toBe(lab.hosts.h2?.stateDir);
    expect(lab.sshUri('h1')).toBe(`ssh://root@${lab.hosts.h1?.ipv4}`);
  }, 60_000);

  it('exec runs in the host namespace with the host env', async () => {
    const r = await lab.exec('h1', [
      'sh',
      '-c',
      'ip -o addr show dev eth0; echo "state=$VMIG_STATE_DIR"; echo "path=$PATH"',
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`${lab.hosts.h1?.ipv4}/24`);
    expect(r.stdout).toContain(`${lab.hosts.h1?.ipv6}/64`);
    expect(r.stdout).toContain(`state=${lab.hosts.h1?.stateDir}`);
    expect(r.stdout).toContain(`path=${lab.dir}/bin:`);
    // `vmig` on every host's PATH is the repo's CLI (it may not exist yet while src/ is written).
    expect(readlinkSync(`${lab.dir}/bin/vmig`)).toBe(`${findRepoRoot()}/bin/vmig`);
  }, 30_000);

  it('hosts reach each other over IPv4 and IPv6', async () => {
    for (const [a, b] of [
      ['h1', 'h2'],
      ['h2', 'h1'],
    ] as const) {
      expect(await lab.tcpConnect(a, lab.hosts[b]!.ipv4, 22)).toBe('ok');
      expect(await lab.tcpConnect(a, lab.hosts[b]!.ipv6!, 22)).toBe('ok');
    }
    // Nothing listens on 23: an immediate RST proves it is a real peer, not a filter.
    expect(await lab.tcpConnect('h1', lab.hosts.h2!.ipv4, 23)).toBe('refused');
  }, 30_000);

  it('blockPorts drops inbound TCP, unblockPorts restores it', async () => {
    const h2 = lab.hosts.h2!;
    await lab.blockPorts('h2', 22, 22);
    const t0 = Date.now();
    expect(await lab.tcpConnect('h1', h2.ipv4, 22, 1500)).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await lab.tcpConnect('h1', h2.ipv6!, 22, 1500)).toBe('timeout');
    expect(await lab.tcpConnect('controller', h2.ipv4, 22, 1500)).toBe('timeout');
    expect(await lab.tcpConnect('h2', lab.hosts.h1!.ipv4, 22)).toBe('ok'); // outbound unaffected
    await lab.unblockPorts('h2');
    expect(await lab.tcpConnect('h1', h2.ipv4, 22)).toBe('ok');
  }, 30_000);

  it('linkDown cuts the host off, linkUp restores it', async () => {
    await lab.linkDown('h2');
    expect(await lab.tcpConnect('h1', lab.hosts.h2!.ipv4, 22, 1500)).not.toBe('ok');
    await lab.linkUp('h2');
    expect(await lab.tcpConnect('h1', lab.hosts.h2!.ipv4, 22, 3000)).toBe('ok');
    expect(await lab.tcpConnect('h1', lab.hosts.h2!.ipv6!, 22, 3000)).toBe('ok');
  }, 30_000);

  it('stopSshd refuses new connections; startSshd brings it back', async () => {
    await lab.stopSshd('h2');
    expect(await lab.tcpConnect('h1', lab.hosts.h2!.ipv4, 22)).toBe('refused');
    await lab.startSshd('h2');
    expect((await lab.ssh('h2', 'echo back')).stdout.trim()).toBe('back');
  }, 30_000);

  it('spawned process handles expose pid, lines and signals', async () => {
    const p = spawnProc('bash', ['-c', 'echo starting >&2; echo ready; sleep 30']);
    expect(await p.waitForLine(/^ready$/, { stream: 'stdout', timeoutMs: 5000 })).toBe('ready');
    expect(await p.waitForLine(/start/, { stream: 'stderr' })).toBe('starting');
    expect(p.kill('SIGTERM')).toBe(true);
    const r = await p.wait();
    expect(r.signal).toBe('SIGTERM');
    expect(r.exitCode).toBe(143);
  }, 15_000);

  it('sweepStaleLabs removes namespaces (and their processes) of dead creators only', async () => {
    const dead = spawnSync('true').pid!; // exited: its pid is (almost surely) free
    const stale = `vmig-${dead}-1-zz`;
    execFileSync('ip', ['netns', 'add', stale]);
    const leaked = spawn('ip', ['netns', 'exec', stale, 'sleep', '1000'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    await sweepStaleLabs(); // a concurrent test run's sweep may get there first: check the outcome only
    const names = netnsNames();
    expect(names).not.toContain(stale);
    expect(names).toContain(lab.hosts.h1!.ns); // our live lab is untouched
    if (leaked.exitCode === null && leaked.signalCode === null) await new Promise((r) => leaked.once('exit', r));
    expect(leaked.signalCode).toBe('SIGTERM');
  }, 30_000);

  it('destroy() kills everything in the lab, deletes namespaces and files', async () => {
    // Daemonize a process over ssh, like an agent starting QEMU.
    const r = await lab.ssh('h1', 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!');
    const daemon = Number(r.stdout.trim());
    const pids = [...(await lab.pids('h1')), ...(await lab.pids('h2'))];
    expect(pids).toContain(daemon);
    expect(pids.length).toBeGreaterThanOrEqual(3); // 2 sshd + the daemon
    const prefix = `${lab.controllerNs.replace(/-ctl$/, '')}-`;
    expect(netnsNames().filter((n) => n.startsWith(prefix))).toHaveLength(4); // sw, ctl, h1, h2

    await lab.destroy();
    await lab.destroy(); // idempotent
    expect(netnsNames().filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(lab.dir)).toBe(false);
  }, 30_000);
});
