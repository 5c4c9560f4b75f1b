// The reference tunnels, set up by the benchmark inside the lab namespaces:
//   openssh: qemu(SRC) ─tcp 127.0.0.1:P─ ssh -L (SRC ns) ══SSH══ sshd (DST ns) ─tcp 127.0.0.1:Q─ qemu(DST)
//   stunnel: qemu(SRC) ─tcp 127.0.0.1:P─ stunnel client (SRC) ══TLS 1.3, PSK══ stunnel server (DST ip:R) ─tcp 127.0.0.1:Q─ qemu(DST)
// Both use each tool's defaults (cipher, buffers), as an administrator would out of the box.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lab, ProcHandle } from '../lab/lab.js';
import { spawnProc } from '../lab/proc.js';
import { sleep } from '../util/timers.js';

/** Namespace-local ports: each lab host has its own network stack, so these collide with nothing. */
export const PORTS = { sourceLocal: 47011, destinationQemu: 47010, stunnelServer: 47012 };

export interface Tunnel {
  /** What the tunnel negotiated (cipher), read from the tools' own logs once data has flowed. */
  describe(): string;
  close(): Promise<void>;
}

/** Waits (bounded) until something in the host's namespace listens on the TCP port (no probe connection: QEMU would take it for the stream). */
async function waitListening(lab: Lab, host: string, port: number, proc: ProcHandle): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const listening = await lab.exec(host, ['ss', '-Hltn', `sport = :${port}`], { timeoutMs: 5_000 });
    if (listening.stdout.trim()) return;
    if (proc.exited) throw new Error(`tunnel process exited: ${proc.stderr.trim().split('\n').at(-1) ?? ''}`);
    await sleep(100);
  }
  throw new Error(`nothing listens on ${host}:${port} after 10 s`);
}

async function stop(processes: ProcHandle[]): Promise<void> {
  for (const proc of processes) proc.kill('SIGTERM');
  await Promise.race([Promise.all(processes.map((proc) => proc.wait())), sleep(3_000)]);
  for (const proc of processes) proc.kill('SIGKILL');
}

const lastMatch = (text: string, pattern: RegExp): string | undefined => [...text.matchAll(pattern)].at(-1)?.[1];

export async function openSshForward(lab: Lab, from: string, to: string): Promise<Tunnel> {
  const forward = `127.0.0.1:${PORTS.sourceLocal}:127.0.0.1:${PORTS.destinationQemu}`;
  // -v only to read the negotiated cipher back; the lab's ssh config has the keys and known_hosts.
  const ssh = spawnProc('ip', [
    'netns',
    'exec',
    lab.hosts[from]!.ns,
    'ssh',
    '-F',
    lab.sshConfig,
    '-v',
    '-N',
    '-o',
    'ExitOnForwardFailure=yes',
    '-L',
    forward,
    to,
  ]);
  try {
    await waitListening(lab, from, PORTS.sourceLocal, ssh);
  } catch (error) {
    await stop([ssh]);
    throw error;
  }
  return {
    describe: () => `ssh cipher ${lastMatch(ssh.stderr, /kex: client->server cipher: (\S+)/g) ?? 'unknown'}`,
    close: () => stop([ssh]),
  };
}

function stunnelConfig(role: 'client' | 'server', accept: string, connect: string, pskFile: string): string {
  return [
    'foreground = yes',
    'pid =',
    'debug = info',
    '[vmig-bench]',
    ...(role === 'client' ? ['client = yes'] : []),
    `accept = ${accept}`,
    `connect = ${connect}`,
    `PSKsecrets = ${pskFile}`,
    '',
  ].join('\n');
}

export async function stunnelPair(lab: Lab, from: string, to: string, dir: string): Promise<Tunnel> {
  const server = `${lab.hosts[to]!.ipv4}:${PORTS.stunnelServer}`;
  const pskFile = join(dir, 'stunnel.psk');
  await writeFile(pskFile, `vmig-bench:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  await writeFile(
    join(dir, 'stunnel-server.conf'),
    stunnelConfig('server', server, `127.0.0.1:${PORTS.destinationQemu}`, pskFile),
  );
  await writeFile(
    join(dir, 'stunnel-client.conf'),
    stunnelConfig('client', `127.0.0.1:${PORTS.sourceLocal}`, server, pskFile),
  );
  const processes: ProcHandle[] = [];
  try {
    processes.push(spawnProc('ip', ['netns', 'exec', lab.hosts[to]!.ns, 'stunnel', join(dir, 'stunnel-server.conf')]));
    await waitListening(lab, to, PORTS.stunnelServer, processes[0]!);
    processes.push(
      spawnProc('ip', ['netns', 'exec', lab.hosts[from]!.ns, 'stunnel', join(dir, 'stunnel-client.conf')]),
    );
    await waitListening(lab, from, PORTS.sourceLocal, processes[1]!);
  } catch (error) {
    await stop(processes);
    throw error;
  }
  return {
    describe: () =>
      `stunnel ${lastMatch(processes.map((p) => p.stderr).join('\n'), /(TLSv[\d.]+ ciphersuite: \S+)/g) ?? 'cipher unknown'}`,
    close: () => stop(processes),
  };
}
