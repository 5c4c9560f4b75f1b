// Resolves an ssh host URI the way OpenSSH would: URI parts first, then ~/.ssh/config (HostName, User, Port,
// IdentityFile, UserKnownHostsFile, GlobalKnownHostsFile, HostKeyAlias), then OpenSSH's defaults.
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { knownHostsName } from './known-hosts.js';
import type { HostUri } from './uri.js';

export interface SshTarget {
  /** What the operator typed, for messages. */
  alias: string;
  hostName: string;
  port: number;
  user: string;
  identityFiles: string[];
  /** Only the listed identities (IdentitiesOnly yes): the agent's keys are not offered. */
  identitiesOnly: boolean;
  /** The user's files (UserKnownHostsFile); an accepted new key goes to the first. */
  knownHostsFiles: string[];
  /** The system-wide files (GlobalKnownHostsFile), read with the user's, never written. */
  globalKnownHostsFiles: string[];
  /** The name known_hosts records this host's key under: HostKeyAlias as is, else "host" or "[host]:port"; lowercased. */
  hostKeyName: string;
  connectTimeoutMs?: number;
}

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
const DEFAULT_GLOBAL_KNOWN_HOSTS = ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];

export const sshDir = (): string => join(process.env.HOME || homedir(), '.ssh');

function expandPath(path: string, target: { hostName: string; user: string; port: number; alias: string }): string {
  const home = process.env.HOME || homedir();
  return path
    .replace(/^~(?=\/|$)/, home)
    .replaceAll('%d', home)
    .replaceAll('%h', target.hostName)
    .replaceAll('%u', userInfo().username)
    .replaceAll('%r', target.user)
    .replaceAll('%p', String(target.port))
    .replaceAll('%n', target.alias)
    .replaceAll('%%', '%');
}

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
const all = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

export async function loadSshConfig(path = join(sshDir(), 'config')): Promise<SSHConfig> {
  try {
    return SSHConfig.parse(await readFile(path, 'utf8'));
  } catch {
    return SSHConfig.parse('');
  }
}

export function resolveSshTarget(uri: Extract<HostUri, { kind: 'ssh' }>, config: SSHConfig): SshTarget {
  const computed = config.compute(uri.host) as Record<string, string | string[]>;
  // OpenSSH keywords are case-insensitive: look them up so.
  const byLowerKey = new Map(Object.entries(computed).map(([key, value]) => [key.toLowerCase(), value]));
  const get = (key: string) => first(byLowerKey.get(key.toLowerCase()));
  const getAll = (key: string) => all(byLowerKey.get(key.toLowerCase()));
  const hostName = get('HostName')?.replaceAll('%h', uri.host) ?? uri.host;
  const port = uri.port ?? Number(get('Port') ?? 22);
  const user = uri.user ?? get('User') ?? userInfo().username;
  const base = { hostName, user, port, alias: uri.host };
  const configured = getAll('IdentityFile').map((path) => expandPath(path, base));
  const identityFiles = configured.length > 0 ? configured : DEFAULT_IDENTITIES.map((name) => join(sshDir(), name));
  const files = (key: string) =>
    getAll(key)
      .flatMap((value) => value.split(/\s+/))
      .filter((path) => path !== '')
      .map((path) => expandPath(path, base));
  const knownHostsFiles = files('UserKnownHostsFile');
  const globalKnownHostsFiles = files('GlobalKnownHostsFile');
  const alias = get('HostKeyAlias');
  const timeout = get('ConnectTimeout');
  return {
    alias: uri.host,
    hostName,
    port,
    user,
    identityFiles,
    identitiesOnly: get('IdentitiesOnly')?.toLowerCase() === 'yes',
    knownHostsFiles:
      knownHostsFiles.length > 0 ? knownHostsFiles : [join(sshDir(), 'known_hosts'), join(sshDir(), 'known_hosts2')],
    globalKnownHostsFiles: globalKnownHostsFiles.length > 0 ? globalKnownHostsFiles : DEFAULT_GLOBAL_KNOWN_HOSTS,
    // OpenSSH looks an alias up bare, without the port (sshconnect.c), and lowercases names before matching.
    hostKeyName: alias !== undefined ? alias.toLowerCase() : knownHostsName(hostName, port),
    ...(timeout ? { connectTimeoutMs: Number(timeout) * 1000 } : {}),
  };
}
