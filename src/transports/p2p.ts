// p2p ssh:  client(SRC) ─unix─▶ agent(SRC) ─unix─▶ ssh(SRC) ═[SSH, the source host's own trust]═ sshd(DST) ─unix─▶ agent(DST)
// The source host opens the SSH connection to the destination itself (OpenSSH's `ssh`, BatchMode, strict host
// keys, stream-local forwarding to the destination agent's relay socket): the controller is out of the data
// path. The source agent proves each stream through the forward exactly as the controller does for the relay.
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { VmigError } from '../errors.js';
import { unlinkIfPresent } from '../util/fs.js';
import type { Cookie } from './cookie.js';
import { closeServer, listenUnix } from './listeners.js';
import { relayProvenStreams } from './prover-relay.js';
import { BUFFERED } from './splice.js';
import type { OutgoingSocket } from './streams.js';
import type { TunnelEnd, TunnelLog } from './tunnel.js';

export interface P2pTarget {
  host: string;
  user?: string;
  port?: number;
}

/** How long the source host's ssh may take to log in and set up its forward. */
export const P2P_CONNECT_TIMEOUT_MS = 15_000;

/** ssh's argv: no secret in it, only the destination and two socket paths. */
export function p2pSshArgs(target: P2pTarget, forward: string, remote: string, sshConfig?: string): string[] {
  return [
    ...(sshConfig ? ['-F', sshConfig] : []),
    '-N',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'ExitOnForwardFailure=yes',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'ServerAliveInterval=5',
    ...(target.port ? ['-p', String(target.port)] : []),
    ...(target.user ? ['-l', target.user] : []),
    '-L',
    `${forward}:${remote}`,
    '--',
    target.host,
  ];
}

export async function openP2pOutgoing(options: {
  cookie: Cookie;
  sockets: OutgoingSocket[];
  target: P2pTarget;
  sshConfig?: string;
  instanceDir: string;
  sourceLabel: string;
  log: TunnelLog;
}): Promise<{ end: TunnelEnd; failure(): string | undefined }> {
  const { cookie, target, log } = options;
  if (!cookie.socketPath) throw new VmigError('INTERNAL', 'the cookie names no destination socket for p2p');
  const forward = join(options.instanceDir, 'p2p.sock');
  await unlinkIfPresent(forward);
  let stderr = '';
  const ssh: ResultPromise = execa('ssh', p2pSshArgs(target, forward, cookie.socketPath, options.sshConfig), {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    reject: false,
    cleanup: true,
  });
  ssh.stderr?.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString()}`.slice(-2000)));
  let exited = false;
  let stopped = false;
  void ssh.then(() => (exited = true));
  const refused = () => {
    const why = stderr.trim().split('\n').filter(Boolean).at(-1) ?? 'ssh gave no reason';
    return new VmigError(
      'MIGRATION_FAILED',
      `p2p: ${options.sourceLabel} could not open SSH to ${target.host} itself (${why}); p2p needs the source host to trust the destination (its key in the destination's authorized_keys, the destination's host key in the source's known_hosts)`,
    );
  };
  for (const started = Date.now(); !existsSync(forward); ) {
    if (exited || Date.now() - started > P2P_CONNECT_TIMEOUT_MS) {
      ssh.kill('SIGKILL');
      throw refused();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  log(`p2p ssh of migration ${cookie.migrationId}: ${options.sourceLabel} connected to ${target.host}`);
  const relay = await relayProvenStreams({
    cookie,
    sockets: options.sockets,
    listen: async (path, onConnection) => {
      const server = createServer({ allowHalfOpen: true, ...BUFFERED }, (socket) =>
        onConnection(socket, () => socket.destroy()),
      );
      await listenUnix(server, path);
      return { close: async () => (server.listening ? closeServer(server) : undefined) };
    },
    connect: () =>
      new Promise<Duplex>((resolve, reject) => {
        const socket = createConnection({ path: forward, allowHalfOpen: true, ...BUFFERED });
        socket.once('connect', () => resolve(socket)).once('error', reject);
      }),
    log,
  }).catch((error: unknown) => {
    ssh.kill('SIGTERM');
    throw error;
  });
  return {
    failure: () =>
      relay.failure() ??
      (exited && !stopped
        ? `the source host's ssh to ${target.host} exited (${stderr.trim().split('\n').at(-1) ?? 'no reason'})`
        : undefined),
    end: {
      async close() {
        stopped = true;
        await relay.close();
        ssh.kill('SIGTERM');
        await Promise.race([ssh, new Promise((resolve) => setTimeout(resolve, 3_000))]);
        ssh.kill('SIGKILL');
        await Promise.all([forward, ...options.sockets.map((socket) => socket.path)].map(unlinkIfPresent));
      },
    },
  };
}
