// The host-key step of an SSH connection, as OpenSSH's check_host_key: read the user's and the global
// known_hosts files, judge the offered key, record a new one for --accept-new-host-key, say what went wrong.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VmigError } from '../errors.js';
import {
  checkHostKey,
  fingerprint,
  hostKeyAlgorithms,
  keyTypeOf,
  knownHostsLine,
  knownKeyTypes,
  type HostKeyCheck,
  type KnownHostsFile,
} from './known-hosts.js';
import type { SshTarget } from './ssh-config.js';
import type { HostUri } from './uri.js';

export interface HostKeyPolicy {
  files: KnownHostsFile[];
  /** What to offer the server, the types on record first. */
  algorithms: string[];
}

async function readKnownHosts(path: string): Promise<KnownHostsFile> {
  try {
    return { path, text: await readFile(path, 'utf8') };
  } catch {
    // A missing file knows no host, as in OpenSSH.
    return { path, text: '' };
  }
}

export async function loadHostKeyPolicy(target: SshTarget): Promise<HostKeyPolicy> {
  const files = await Promise.all([...target.knownHostsFiles, ...target.globalKnownHostsFiles].map(readKnownHosts));
  return { files, algorithms: hostKeyAlgorithms(knownKeyTypes(files, [target.hostKeyName])) };
}

export interface HostKeyDecision {
  check: HostKeyCheck;
  key: Buffer;
  /** Set when the key was new and could not be recorded (it was then refused). */
  saveError?: Error;
}

/**
 * Judges the offered key. With acceptNew, a key for a host with no key on record at all is recorded (awaited: a key
 * that cannot be saved is refused); a key of a new type for a host known by another type is not (see README).
 */
export async function decideHostKey(
  policy: HostKeyPolicy,
  target: SshTarget,
  key: Buffer,
  acceptNew: boolean,
): Promise<HostKeyDecision & { accept: boolean }> {
  const check = checkHostKey(policy.files, [target.hostKeyName], key);
  if (check.verdict === 'match') return { check, key, accept: true };
  if (check.verdict !== 'unknown' || !acceptNew || check.knownTypes.length > 0) return { check, key, accept: false };
  try {
    await recordHostKey(target.knownHostsFiles[0]!, knownHostsLine(target.hostKeyName, key));
    return { check, key, accept: true };
  } catch (error) {
    return { check, key, saveError: error as Error, accept: false };
  }
}

/** Appends one line, creating the directory (0700, like ~/.ssh) and the file (0600) if need be. */
export async function recordHostKey(path: string, line: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await appendFile(path, line, { mode: 0o600 });
}

/** The ssh command that reaches the host the way the operator named it, for hints. */
export const sshCommandFor = (uri: Extract<HostUri, { kind: 'ssh' }>): string =>
  `ssh ${uri.port ? `-p ${uri.port} ` : ''}${uri.user ? `${uri.user}@` : ''}${uri.host}`;

/** The one-line error for a refused host key. */
export function hostKeyError(
  decision: HostKeyDecision,
  uri: Extract<HostUri, { kind: 'ssh' }>,
  where: string,
  target: SshTarget,
): VmigError {
  const { check, key } = decision;
  const type = keyTypeOf(key);
  const name = target.hostKeyName;
  const ssh = sshCommandFor(uri);
  if (decision.saveError) {
    return new VmigError(
      'HOST_KEY_UNKNOWN',
      `could not record the host key of ${where} in ${target.knownHostsFiles[0]}: ${decision.saveError.message}; nothing was accepted`,
    );
  }
  if (check.verdict === 'changed' || check.verdict === 'revoked') {
    const at = check.offending
      ? ` (the ${type} key on record at ${check.offending.path}:${check.offending.line} differs)`
      : ' (the key is revoked)';
    const fix = check.offending ? `, then remove the old key (ssh-keygen -f ${check.offending.path} -R '${name}')` : '';
    return new VmigError(
      'HOST_KEY_CHANGED',
      `REFUSED: the host key of ${where} does not match known_hosts${at}; someone may be intercepting the connection, or the host was reinstalled: check ${fingerprint(key)} with the host's administrator${fix}`,
    );
  }
  if (check.knownTypes.length > 0) {
    return new VmigError(
      'HOST_KEY_UNKNOWN',
      `the host key of ${where} is a ${type} key, but known_hosts holds only ${check.knownTypes.join(', ')} keys for "${name}"; the host may have been reinstalled, or someone may be intercepting: verify ${fingerprint(key)} and add it (${ssh} once)`,
    );
  }
  return new VmigError(
    'HOST_KEY_UNKNOWN',
    `the host key of ${where} is not in known_hosts (as "${name}"); verify it and add it (${ssh} once), or pass --accept-new-host-key`,
  );
}
