// ssh://: one ssh2 connection per host, host key checked against known_hosts, keys from ssh-agent and
// ~/.ssh; the agent runs as `vmig agent` on an exec channel of that connection.
import { readFile } from 'node:fs/promises';
import ssh2, { type AuthenticationType, type ClientChannel } from 'ssh2';
import { VmigError } from '../errors.js';
import { openAgentSession, StderrTail, type HostConnection } from './connection.js';
import { decideHostKey, hostKeyError, loadHostKeyPolicy, type HostKeyDecision } from './host-key.js';
import { fingerprint } from './known-hosts.js';
import { loadSshConfig, resolveSshTarget, type SshTarget } from './ssh-config.js';
import { hostLabel, VMIG_PATH_PATTERN, VMIG_PATH_RULE, type HostUri } from './uri.js';
import { installedAgentCommand } from './install-layout.js';
import { VERSION } from '../version.js';

export interface SshOptions {
  /** Like StrictHostKeyChecking=accept-new: record an unknown host's key; a changed key is still refused. */
  acceptNewHostKey?: boolean;
  connectTimeoutMs?: number;
  /** How often to probe a silent peer, and how many missed probes mean it is dead. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  onAgentLog?: (line: string) => void;
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

async function authMethods(target: SshTarget): Promise<Array<AuthenticationType | Record<string, unknown>>> {
  const methods: Array<Record<string, unknown>> = [];
  if (process.env.SSH_AUTH_SOCK && !target.identitiesOnly)
    methods.push({ type: 'agent', username: target.user, agent: process.env.SSH_AUTH_SOCK });
  for (const path of target.identityFiles) {
    const key = await readOptional(path);
    if (key === '') continue;
    // Encrypted keys need a passphrase vmig never asks for: they are offered through ssh-agent instead.
    if (ssh2.utils.parseKey(key) instanceof Error) continue;
    methods.push({ type: 'publickey', username: target.user, key });
  }
  return methods;
}

/** An authenticated SSH connection with its host key checked, before any agent runs (`vmig host install` uses it alone). */
export async function openSshClient(
  uri: Extract<HostUri, { kind: 'ssh' }>,
  options: SshOptions = {},
): Promise<ssh2.Client> {
  const label = hostLabel(uri);
  const target = resolveSshTarget(uri, await loadSshConfig());
  const policy = await loadHostKeyPolicy(target);
  // An empty list still connects: an unreachable host must be reported as unreachable, not as keyless.
  const methods = await authMethods(target);

  let refused: HostKeyDecision | undefined;
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', (error: Error & { level?: string; code?: string }) => {
      const where = `${label} (${target.hostName}:${target.port})`;
      reject(
        refused
          ? hostKeyError(refused, uri, where, target)
          : classifyConnectError(error, label, target, methods.length === 0),
      );
    });
    client.connect({
      host: target.hostName,
      port: target.port,
      username: target.user,
      readyTimeout: options.connectTimeoutMs ?? target.connectTimeoutMs ?? 15_000,
      keepaliveInterval: options.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      authHandler: methods as never,
      // The key types on record first, as OpenSSH orders HostKeyAlgorithms: a host with several keys shows the known one.
      algorithms: { serverHostKey: policy.algorithms as never },
      hostVerifier: (key: Buffer, verify: (accept: boolean) => void) => {
        void decideHostKey(policy, target, key, options.acceptNewHostKey === true).then((decision) => {
          if (!decision.accept) refused = decision;
          verify(decision.accept);
        });
      },
    });
  });
  client.on('error', () => undefined);
  return client;
}

export async function connectSsh(
  uri: Extract<HostUri, { kind: 'ssh' }>,
  options: SshOptions = {},
): Promise<HostConnection> {
  const label = hostLabel(uri);
  const client = await openSshClient(uri, options);
  const command = agentCommand(uri.vmigPath);
  const shown = uri.vmigPath ? `"${uri.vmigPath} agent"` : `vmig ${VERSION}`;
  const channel = await new Promise<ClientChannel>((resolve, reject) => {
    client.exec(command, (error, stream) =>
      error
        ? reject(new VmigError('AGENT_FAILED', `could not run ${shown} on ${label}: ${error.message}`, { exitCode: 3 }))
        : resolve(stream),
    );
  }).catch((error) => {
    client.end();
    throw error;
  });
  const stderr = new StderrTail(options.onAgentLog);
  channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  let exitInfo: string | undefined;
  let channelClosed = false;
  channel.once('close', () => {
    channelClosed = true;
  });
  channel.on('exit', (code: number | null) => {
    exitInfo =
      code === 127
        ? `${shown} not found (install it with: vmig host install ${uri.text}, or give its path as ?vmig=/path/to/vmig)`
        : `agent exited with code ${code}`;
  });
  return openAgentSession({
    uri,
    label,
    stdout: channel,
    stdin: channel,
    stderr,
    ssh: client,
    exitInfo: () => (exitInfo?.includes('not found') ? exitInfo : undefined),
    close: async () => {
      // An agent that never started (exit 127) closed its channel already: no 'close' event will come again.
      if (!channelClosed)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 30_000);
          channel.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          channel.end();
        });
      client.end();
    },
  });
}

/** The remote command line; the path was checked against VMIG_PATH_PATTERN and is quoted all the same. */
export function agentCommand(vmigPath: string | undefined): string {
  // No path: this controller's version from `vmig host install`'s directories, else `vmig` on the PATH.
  if (vmigPath === undefined) return installedAgentCommand(VERSION);
  if (!VMIG_PATH_PATTERN.test(vmigPath))
    throw new VmigError('BAD_URI', `vmig path "${vmigPath}" must be ${VMIG_PATH_RULE}`);
  return `'${vmigPath}' agent`;
}

function classifyConnectError(
  error: Error & { level?: string; code?: string },
  label: string,
  target: SshTarget,
  noKeys: boolean,
): VmigError {
  const where = `${label} (${target.hostName}:${target.port})`;
  if (error.level === 'client-authentication' && noKeys) {
    return new VmigError(
      'AUTH_FAILED',
      `no SSH key for ${label}: start ssh-agent or create ~/.ssh/id_ed25519 (vmig does not use passwords)`,
    );
  }
  if (error.level === 'client-authentication')
    return new VmigError('AUTH_FAILED', `authentication to ${where} as ${target.user} failed (no accepted key)`);
  if (error.level === 'client-timeout') return new VmigError('HOST_UNREACHABLE', `cannot reach ${where}: timed out`);
  const reason =
    error.code === 'ECONNREFUSED'
      ? 'connection refused'
      : error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN'
        ? 'unknown host name'
        : error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH'
          ? 'no route to host'
          : error.message;
  return new VmigError('HOST_UNREACHABLE', `cannot reach ${where}: ${reason}`);
}

export { fingerprint };
