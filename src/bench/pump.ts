// `node dist/bench/pump.js [--gib N] [--runs R] [--pumps LIST] [--json]`: the CPU cost of our tunnel pumps, without QEMU.
//   writer ─unix─▶ pump(s) ─unix─▶ sink (discards)
// Pumps: tls (the real openTlsOutgoing → TLS on 127.0.0.1 → openTlsIncoming), splice (a plain unix → unix
// splice() with the tunnels' socket buffers), ssh (sshd's streamlocal-forward socket → the controller's relayStreams
// over two ssh2 connections to a throw-away OpenSSH sshd on 127.0.0.1 → openSshIncoming), stunnel (stunnel4
// client + server in PSK mode, TCP on loopback).
// Every end runs in its own process, so that its CPU time (user + sys of all its threads, from /proc) is its own.
// CPU seconds per GiB is the figure to compare: it does not depend on what else runs on the machine; MB/s does.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import type { HostConnection } from '../hosts/connection.js';
import { findRepoRoot } from '../lab/repo.js';
import { mintCookie, type Cookie, type Endpoint } from '../transports/cookie.js';
import { BUFFERED, splice, STREAM_BUFFER_BYTES } from '../transports/splice.js';
import { relayStreams } from '../controller/stream-relay.js';
import { openSshIncoming } from '../transports/ssh-relay.js';
import { openTlsIncoming, openTlsOutgoing } from '../transports/tls.js';

const PUMPS = ['tls', 'splice', 'ssh', 'stunnel'] as const;
type PumpName = (typeof PUMPS)[number];
const GIB = 1024 ** 3;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** What the writer sends per write(): QEMU's migration stream is written in similar bursts. */
const WRITE_BYTES = 256 * 1024;
const quiet = (): void => undefined;

/** A unix path, or host:port for stunnel's TCP ends. */
type Address = { path: string } | { host: string; port: number };
const connectTo = (address: Address): Socket => createConnection({ ...address, allowHalfOpen: true });

// ─── child roles ────────────────────────────────────────────────────────────────────────────────────────────

type RoleArgs = Record<string, unknown>;
const send = (message: unknown): void => void process.send!(message);
/** Runs until the parent says stop, then cleans up and exits. */
const untilStopped = (cleanup: () => Promise<void> | void): void =>
  void process.on('message', async (message) => {
    if (message !== 'stop') return;
    await cleanup();
    process.exit(0);
  });

const roles: Record<string, (args: RoleArgs) => Promise<void>> = {
  /** Stands in for QEMU(dst): counts and discards; its CPU is not measured. */
  async sink(args) {
    let received = 0;
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.on('end', () => {
        send({ received });
        socket.end();
      });
    });
    server.listen(args.address as Address, () => send({ ready: true }));
    untilStopped(() => void server.close());
  },
  /** Stands in for QEMU(src): writes `bytes` from one random buffer with backpressure, then ends its side. */
  async writer(args) {
    const total = args.bytes as number;
    const pool = randomBytes(4 * 1024 * 1024);
    const socket = connectTo(args.address as Address);
    socket.on('error', (error) => send({ error: error.message }));
    await new Promise((resolve) => socket.once('connect', resolve));
    send({ ready: true });
    process.once('message', () => {
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const offset = sent % pool.length;
          const length = Math.min(WRITE_BYTES, total - sent, pool.length - offset);
          sent += length;
          if (!socket.write(pool.subarray(offset, offset + length))) return void socket.once('drain', pump);
        }
        socket.end();
      };
      pump();
    });
    untilStopped(() => void socket.destroy());
  },
  async 'tls-in'(args) {
    const { endpoint, end } = await openTlsIncoming({
      cookie: args.cookie as Cookie,
      streams: [{ id: 'ram', socket: args.sink as string }],
      listenHost: '127.0.0.1',
      portRange: [49152, 49215],
      log: quiet,
    });
    send({ ready: endpoint });
    untilStopped(() => end.close());
  },
  async 'tls-out'(args) {
    const opened = await openTlsOutgoing({
      cookie: args.cookie as Cookie,
      endpoint: args.endpoint as Endpoint,
      sockets: [{ path: args.listen as string, streams: ['ram'] }],
      log: (line) => send({ log: line }),
    });
    send({ ready: true });
    untilStopped(() => opened.end.close());
  },
  /** A plain relay: one unix connection in, spliced to the sink. */
  async splice(args) {
    const server = createServer({ allowHalfOpen: true, highWaterMark: STREAM_BUFFER_BYTES }, (from) => {
      server.close();
      from.pause();
      const to = createConnection({ path: args.sink as string, allowHalfOpen: true, ...BUFFERED });
      to.once('connect', () => void splice(from, to));
    });
    server.listen(args.listen as string, () => send({ ready: true }));
    untilStopped(() => void server.close());
  },
  async 'ssh-in'(args) {
    const end = await openSshIncoming({
      cookie: args.cookie as Cookie,
      socketPath: args.listen as string,
      streams: [{ id: 'ram', socket: args.sink as string }],
      log: quiet,
    });
    send({ ready: true });
    untilStopped(() => end.close());
  },
  /** The controller: two ssh2 connections (as src/hosts/ssh.ts makes them) and relayStreams. */
  async 'ssh-relay'(args) {
    const connect = async (label: string): Promise<HostConnection> => {
      const client = new ssh2.Client();
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve).once('error', reject);
        client.connect({
          host: '127.0.0.1',
          port: args.port as number,
          username: 'root',
          privateKey: args.key as string,
          hostVerifier: () => true,
          // Only to report the negotiated cipher; everything else is as src/hosts/ssh.ts connects.
          debug: (line: string) =>
            void (
              line.startsWith('Handshake: C->S Cipher: ') &&
              send({ cipher: line.slice('Handshake: C->S Cipher: '.length) })
            ),
        });
      });
      return { label, ssh: client } as unknown as HostConnection;
    };
    const [source, destination] = [await connect('source'), await connect('destination')];
    const cookie = { ...(args.cookie as Cookie), socketPath: args.tunnel as string };
    const relay = await relayStreams({
      source,
      destination,
      cookie,
      sockets: [{ path: args.entry as string, streams: ['ram'] }],
    });
    send({ ready: true });
    untilStopped(async () => {
      await relay.close();
      source.ssh!.end();
      destination.ssh!.end();
    });
  },
};

// ─── parent ─────────────────────────────────────────────────────────────────────────────────────────────────

const thisFile = fileURLToPath(import.meta.url);

interface Child {
  name: string;
  proc: ChildProcess;
  messages: Array<Record<string, unknown>>;
  next(key: string): Promise<unknown>;
}

function startRole(role: string, args: RoleArgs, name = role, nodeFlags: string[] = []): Child {
  const proc = fork(thisFile, ['--role', role, JSON.stringify(args)], {
    execArgv: nodeFlags,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Array<Record<string, unknown>> = [];
  const waiting = new Map<string, (value: unknown) => void>();
  proc.on('message', (message: Record<string, unknown>) => {
    messages.push(message);
    if (message.error) process.stderr.write(`pump: ${name}: ${String(message.error)}\n`);
    for (const [key, resolve] of waiting) if (key in message) resolve(message[key]);
  });
  const next = (key: string) =>
    new Promise<unknown>((resolve, reject) => {
      const seen = messages.find((message) => key in message);
      if (seen) return resolve(seen[key]);
      waiting.set(key, resolve);
      proc.once('exit', (code) => reject(new Error(`${name} exited (${code}) before sending ${key}`)));
    });
  return { name, proc, messages, next };
}

interface Cpu {
  user: number;
  sys: number;
}

/** user and sys seconds of a process and all its threads (and, for sshd, of its children). */
async function cpuSeconds(pid: number, withChildren = false): Promise<Cpu> {
  const total = { user: 0, sys: 0 };
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
    total.user = Number(fields[11]) / CLOCK_TICKS;
    total.sys = Number(fields[12]) / CLOCK_TICKS;
    if (withChildren) {
      for (const child of (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8'))
        .trim()
        .split(' ')
        .filter(Boolean)) {
        const more = await cpuSeconds(Number(child), true);
        total.user += more.user;
        total.sys += more.sys;
      }
    }
  } catch {
    // Gone already: nothing to add.
  }
  return total;
}

interface Measured {
  /** Process whose CPU is ours to cut, and process whose CPU is the reference's or the SSH server's. */
  ends: Array<{ name: string; pid: number; withChildren?: boolean; ours: boolean }>;
  /** Where the writer connects. */
  entry: Address;
  /** Every process of the pump: one that exits during the run fails it instead of hanging it. */
  procs: ChildProcess[];
  stop(): Promise<void>;
  describe?(): Promise<string>;
}

const stopChildren = async (children: Child[]) => {
  for (const child of children) child.proc.connected && child.proc.send('stop');
  await Promise.race([
    Promise.all(
      children.map((child) =>
        child.proc.exitCode === null ? new Promise((r) => child.proc.once('exit', r)) : undefined,
      ),
    ),
    new Promise((r) => setTimeout(r, 3_000)),
  ]);
  for (const child of children) child.proc.kill('SIGKILL');
};

async function waitProcExit(proc: ChildProcess): Promise<void> {
  proc.kill('SIGTERM');
  await Promise.race([new Promise((r) => proc.once('exit', r)), new Promise((r) => setTimeout(r, 3_000))]);
  proc.kill('SIGKILL');
}

const setups: Record<PumpName, (dir: string, sink: Address, flags: string[]) => Promise<Measured>> = {
  async tls(dir, sink, flags) {
    const cookie = mintCookie(randomUUID(), 'tls', undefined);
    const incoming = startRole('tls-in', { cookie, sink: (sink as { path: string }).path }, 'tls dst', flags);
    const endpoint = await incoming.next('ready');
    const outgoing = startRole('tls-out', { cookie, endpoint, listen: join(dir, 'out.sock') }, 'tls src', flags);
    await outgoing.next('ready');
    return {
      ends: [
        // The agents with their stream pumps (child processes, transports/pumps.ts).
        { name: 'src agent', pid: outgoing.proc.pid!, withChildren: true, ours: true },
        { name: 'dst agent', pid: incoming.proc.pid!, withChildren: true, ours: true },
      ],
      entry: { path: join(dir, 'out.sock') },
      procs: [outgoing.proc, incoming.proc],
      stop: () => stopChildren([outgoing, incoming]),
      describe: async () => {
        const log = (await outgoing.next('log')) as string;
        return /\((TLS_\S+), key share ([^,)]+)/.exec(log)?.slice(1).join(' ') ?? 'cipher unknown';
      },
    };
  },
  async splice(dir, sink, flags) {
    const relay = startRole(
      'splice',
      { sink: (sink as { path: string }).path, listen: join(dir, 'in.sock') },
      'splice',
      flags,
    );
    await relay.next('ready');
    return {
      ends: [{ name: 'relay', pid: relay.proc.pid!, ours: true }],
      entry: { path: join(dir, 'in.sock') },
      procs: [relay.proc],
      stop: () => stopChildren([relay]),
    };
  },
  async ssh(dir, sink, flags) {
    const sshd = await startSshd(dir);
    const cookie = mintCookie(randomUUID(), 'ssh', undefined);
    const incoming = startRole(
      'ssh-in',
      { cookie, listen: join(dir, 'dst.sock'), sink: (sink as { path: string }).path },
      'ssh dst',
      flags,
    );
    await incoming.next('ready');
    // The source agent is out of the path: sshd listens on out.sock for the controller (streamlocal-forward).
    const controller = startRole(
      'ssh-relay',
      { cookie, port: sshd.port, key: sshd.key, entry: join(dir, 'out.sock'), tunnel: join(dir, 'dst.sock') },
      'controller',
      flags,
    );
    await controller.next('ready');
    return {
      ends: [
        { name: 'controller', pid: controller.proc.pid!, ours: true },
        { name: 'dst agent', pid: incoming.proc.pid!, ours: true },
        { name: 'sshd (both)', pid: sshd.proc.pid!, withChildren: true, ours: false },
      ],
      entry: { path: join(dir, 'out.sock') },
      procs: [controller.proc, incoming.proc, sshd.proc],
      stop: async () => {
        await stopChildren([controller, incoming]);
        await waitProcExit(sshd.proc);
      },
      describe: async () => `ssh2 cipher ${String(await controller.next('cipher'))}`,
    };
  },
  async stunnel(dir) {
    const psk = join(dir, 'stunnel.psk');
    await writeFile(psk, `vmig-bench:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const config = (role: 'client' | 'server', accept: string, connect: string) =>
      [
        'foreground = yes',
        'pid =',
        'debug = info',
        '[vmig-bench]',
        ...(role === 'client' ? ['client = yes'] : []),
        `accept = ${accept}`,
        `connect = ${connect}`,
        `PSKsecrets = ${psk}`,
        '',
      ].join('\n');
    await writeFile(
      join(dir, 'server.conf'),
      config('server', `127.0.0.1:${STUNNEL_PORTS.tunnel}`, `127.0.0.1:${STUNNEL_PORTS.sink}`),
    );
    await writeFile(
      join(dir, 'client.conf'),
      config('client', `127.0.0.1:${STUNNEL_PORTS.entry}`, `127.0.0.1:${STUNNEL_PORTS.tunnel}`),
    );
    const logs = ['', ''];
    const procs = ['server.conf', 'client.conf'].map((file, i) => {
      const proc = spawn('/usr/bin/stunnel4', [join(dir, file)], { stdio: ['ignore', 'ignore', 'pipe'] });
      proc.stderr!.on('data', (chunk: Buffer) => (logs[i] += chunk.toString()));
      return proc;
    });
    for (let i = 0; i < 2 && !logs.every((log) => /Configuration successful/.test(log)); i++)
      await new Promise((r) => setTimeout(r, 500));
    return {
      ends: [
        { name: 'stunnel client', pid: procs[1]!.pid!, ours: false },
        { name: 'stunnel server', pid: procs[0]!.pid!, ours: false },
      ],
      entry: { host: '127.0.0.1', port: STUNNEL_PORTS.entry },
      procs,
      stop: async () => void (await Promise.all(procs.map(waitProcExit))),
      describe: async () => /(TLSv[\d.]+ ciphersuite: \S+)/.exec(logs.join('\n'))?.[1] ?? 'cipher unknown',
    };
  },
};
const STUNNEL_PORTS = { entry: 47111, tunnel: 47112, sink: 47110 };

/** A throw-away OpenSSH server on 127.0.0.1 that allows direct-streamlocal channels, keyed for this run only. */
async function startSshd(dir: string): Promise<{ proc: ChildProcess; port: number; key: string }> {
  const port = 47120;
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')));
  await writeFile(
    join(dir, 'sshd_config'),
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'StrictModes no',
      'AllowStreamLocalForwarding yes',
      'StreamLocalBindUnlink yes',
      'UsePAM no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  let log = '';
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  proc.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  for (let i = 0; i < 50 && !/Server listening/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
  if (!/Server listening/.test(log)) throw new Error(`sshd did not start: ${log.trim()}`);
  return { proc, port, key: await readFile(join(dir, 'client_key'), 'utf8') };
}

interface RunResult {
  pump: PumpName;
  seconds: number;
  mbps: number;
  cpuPerGiB: Array<{ name: string; seconds: number; user: number; sys: number; ours: boolean }>;
  describe: string;
}

async function runOnce(pump: PumpName, bytes: number, flags: string[]): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'vmig-pump-'));
  const sinkAddress: Address =
    pump === 'stunnel' ? { host: '127.0.0.1', port: STUNNEL_PORTS.sink } : { path: join(dir, 'sink.sock') };
  const sink = startRole('sink', { address: sinkAddress });
  let measured: Measured | undefined;
  let writer: Child | undefined;
  try {
    await sink.next('ready');
    measured = await setups[pump](dir, sinkAddress, flags);
    writer = startRole('writer', { address: measured.entry, bytes });
    await writer.next('ready');
    const before = await Promise.all(measured.ends.map((end) => cpuSeconds(end.pid, end.withChildren)));
    const start = process.hrtime.bigint();
    writer.proc.send('go');
    const died = measured.procs.map(
      (proc) =>
        new Promise<never>((_, reject) =>
          proc.once('exit', (code, signal) =>
            reject(new Error(`${pump}: a pump process exited during the run (${signal ?? code})`)),
          ),
        ),
    );
    const received = (await Promise.race([sink.next('received'), ...died])) as number;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const after = await Promise.all(measured.ends.map((end) => cpuSeconds(end.pid, end.withChildren)));
    if (received !== bytes) throw new Error(`${pump}: the sink got ${received} bytes of ${bytes}`);
    const gib = bytes / GIB;
    const describe =
      (await Promise.race([measured.describe?.() ?? '', new Promise<string>((r) => setTimeout(() => r(''), 2_000))])) ??
      '';
    return {
      pump,
      seconds,
      mbps: bytes / 1e6 / seconds,
      cpuPerGiB: measured.ends.map((end, i) => {
        const user = (after[i]!.user - before[i]!.user) / gib;
        const sys = (after[i]!.sys - before[i]!.sys) / gib;
        return { name: end.name, seconds: user + sys, user, sys, ours: end.ours };
      }),
      describe,
    };
  } finally {
    await measured?.stop();
    await stopChildren([writer, sink].filter((child): child is Child => child !== undefined));
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** The node flags of bin/vmig's #! line, so that the pumps run as the agents and the controller do. */
function vmigNodeFlags(): string[] {
  const shebang = readFileSync(join(findRepoRoot(), 'bin', 'vmig'), 'utf8').split('\n', 1)[0] ?? '';
  return shebang.split(/\s+/).filter((word) => word.startsWith('--'));
}

function parseArgs(argv: string[]) {
  const options = { gib: 2, runs: 3, pumps: [...PUMPS] as PumpName[], json: false, nodeFlags: vmigNodeFlags() };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--gib') options.gib = Number(value());
    else if (flag === '--runs') options.runs = Number(value());
    else if (flag === '--pumps')
      options.pumps = value()
        .split(',')
        .filter((name): name is PumpName => (PUMPS as readonly string[]).includes(name));
    else if (flag === '--json') options.json = true;
    // e.g. --node-flag=--cpu-prof: passed to the pump processes, for profiling.
    else if (flag === '--node-flag') options.nodeFlags.push(value());
    else
      throw new Error(
        `usage: node dist/bench/pump.js [--gib N] [--runs R] [--pumps ${PUMPS.join(',')}] [--json] [--node-flag FLAG]`,
      );
  }
  if (!(options.gib > 0) || !Number.isInteger(options.runs) || options.runs < 1 || options.pumps.length === 0)
    throw new Error('bad --gib, --runs or --pumps');
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const bytes = Math.round(options.gib * GIB);
  const results: RunResult[] = [];
  // In alternation (A B C A B C …), so that a burst of load elsewhere does not land on one pump only.
  for (let run = 0; run < options.runs; run++) {
    for (const pump of options.pumps) {
      const result = await runOnce(pump, bytes, options.nodeFlags);
      results.push(result);
      const parts = result.cpuPerGiB
        .map((end) => `${end.name} ${end.seconds.toFixed(2)} (usr ${end.user.toFixed(2)})`)
        .join(', ');
      process.stderr.write(
        `pump: ${pump} run ${run + 1}: ${result.mbps.toFixed(0)} MB/s, CPU s/GiB: ${parts}${result.describe ? ` [${result.describe}]` : ''}\n`,
      );
    }
  }
  const summary = options.pumps.map((pump) => {
    const mine = results.filter((result) => result.pump === pump);
    const names = mine[0]!.cpuPerGiB.map((end) => end.name);
    const perEnd = names.map((name, i) => ({
      name,
      cpuPerGiB: median(mine.map((result) => result.cpuPerGiB[i]!.seconds)),
      ours: mine[0]!.cpuPerGiB[i]!.ours,
    }));
    // Our processes only: sshd's share is OpenSSH's, and stunnel is all reference.
    const tunnel = median(
      mine.map((result) =>
        result.cpuPerGiB.reduce((sum, end) => sum + (end.ours || pump === 'stunnel' ? end.seconds : 0), 0),
      ),
    );
    return {
      pump,
      runs: mine.length,
      mbps: median(mine.map((result) => result.mbps)),
      cpuPerGiB: tunnel,
      perEnd,
      describe: mine[0]!.describe,
    };
  });
  if (options.json)
    return void process.stdout.write(
      `${JSON.stringify({ gib: options.gib, runs: options.runs, summary, results }, null, 2)}\n`,
    );
  process.stdout.write(`pump       MB/s   CPU s/GiB (ours)   per end (median)\n`);
  for (const row of summary) {
    const ends = row.perEnd.map((end) => `${end.name} ${end.cpuPerGiB.toFixed(2)}`).join(', ');
    process.stdout.write(
      `${row.pump.padEnd(8)} ${row.mbps.toFixed(0).padStart(6)}   ${row.cpuPerGiB.toFixed(2).padStart(9)}          ${ends}${row.describe ? `  [${row.describe}]` : ''}\n`,
    );
  }
}

const roleIndex = process.argv.indexOf('--role');
if (roleIndex !== -1) {
  const role = roles[process.argv[roleIndex + 1]!]!;
  process.on('disconnect', () => process.exit(0));
  void role(JSON.parse(process.argv[roleIndex + 2]!) as RoleArgs).catch((error: Error) => {
    send({ error: error.stack ?? error.message });
    process.exit(1);
  });
} else {
  main().catch((error: Error) => {
    process.stderr.write(`pump: ${error.message}\n`);
    process.exitCode = 1;
  });
}
