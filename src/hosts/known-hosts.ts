// known_hosts checking, as OpenSSH does it: plain and hashed (|1|salt|hash) host patterns, [host]:port for
// non-standard ports, @revoked markers, the user's files and the global ones read together. A key is judged
// by its type: a key of a type on record that differs is "changed"; a type not on record is "unknown".
// Pure: takes the files' text.
import { createHash, createHmac } from 'node:crypto';

export type HostKeyVerdict = 'match' | 'unknown' | 'changed' | 'revoked';

export interface KnownHostsFile {
  path: string;
  text: string;
}

interface Entry {
  marker?: string;
  patterns: string;
  keyType: string;
  keyBase64: string;
  path: string;
  line: number;
}

export interface HostKeyCheck {
  verdict: HostKeyVerdict;
  /** The key types on record for this host (plain entries), in file order. */
  knownTypes: string[];
  /** For "changed": the entry that holds the other key of the same type. */
  offending?: { path: string; line: number };
}

function parseEntries(file: KnownHostsFile): Entry[] {
  const entries: Entry[] = [];
  file.text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [patterns, , keyBase64] = fields;
    if (!patterns || !keyBase64) return;
    // The type inside the key blob is the one that counts (the text field is only a label).
    const keyType = keyTypeOf(Buffer.from(keyBase64, 'base64'));
    if (keyType === '') return;
    entries.push({ ...(marker ? { marker } : {}), patterns, keyType, keyBase64, path: file.path, line: index + 1 });
  });
  return entries;
}

/** The name OpenSSH looks up: "host" on port 22, "[host]:port" otherwise; lowercased, as OpenSSH does before matching. */
export const knownHostsName = (host: string, port: number): string => {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
};

function hashedMatches(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatches(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    if (pattern.startsWith('!')) {
      if (globToRegExp(pattern.slice(1)).test(name)) return false;
    } else if (globToRegExp(pattern).test(name)) {
      matched = true;
    }
  }
  return matched;
}

function relevantEntries(files: KnownHostsFile[], names: string[]): Entry[] {
  const lowered = names.map((name) => name.toLowerCase());
  return files.flatMap(parseEntries).filter((entry) => lowered.some((name) => patternsMatch(entry.patterns, name)));
}

/** The key types known_hosts holds for `names` (what to ask the server for first). */
export function knownKeyTypes(files: KnownHostsFile[], names: string[]): string[] {
  return [
    ...new Set(
      relevantEntries(files, names)
        .filter((entry) => entry.marker === undefined)
        .map((entry) => entry.keyType),
    ),
  ];
}

/** Checks `key` (the raw SSH public key blob) offered by `names` against every file, as OpenSSH's check_host_key. */
export function checkHostKey(files: KnownHostsFile[], names: string[], key: Buffer): HostKeyCheck {
  const offered = key.toString('base64');
  const relevant = relevantEntries(files, names);
  const plain = relevant.filter((entry) => entry.marker === undefined);
  const knownTypes = [...new Set(plain.map((entry) => entry.keyType))];
  if (relevant.some((entry) => entry.marker === '@revoked' && entry.keyBase64 === offered))
    return { verdict: 'revoked', knownTypes };
  if (plain.some((entry) => entry.keyBase64 === offered)) return { verdict: 'match', knownTypes };
  // Another key of the same type on record: not the host we knew. A type not on record is merely new.
  const sameType = plain.find((entry) => entry.keyType === keyTypeOf(key));
  if (sameType) return { verdict: 'changed', knownTypes, offending: { path: sameType.path, line: sameType.line } };
  return { verdict: 'unknown', knownTypes };
}

/** The verdict for one file's text (kept for callers that hold a single file). */
export const verifyHostKey = (knownHostsText: string, names: string[], key: Buffer): HostKeyVerdict =>
  checkHostKey([{ path: 'known_hosts', text: knownHostsText }], names, key).verdict;

// What vmig offers, in OpenSSH's default order (ssh-rsa with SHA-1 is off, as in OpenSSH >= 8.8).
const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
];

/** Host-key algorithms with those of the types on record first, so a server with several keys shows the known one. */
export function hostKeyAlgorithms(knownTypes: string[]): string[] {
  const preferred = knownTypes.flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [type]));
  const first = DEFAULT_HOST_KEY_ALGORITHMS.filter((algorithm) => preferred.includes(algorithm));
  return [...first, ...DEFAULT_HOST_KEY_ALGORITHMS.filter((algorithm) => !first.includes(algorithm))];
}

/** The key type named inside an SSH public key blob (string length prefix, then e.g. "ssh-ed25519"). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return '';
  const length = key.readUInt32BE(0);
  if (length === 0 || length > 64 || key.length < 4 + length) return '';
  return key.subarray(4, 4 + length).toString('latin1');
}

export const knownHostsLine = (name: string, key: Buffer): string =>
  `${name} ${keyTypeOf(key)} ${key.toString('base64')}\n`;

/** SHA256 fingerprint as OpenSSH prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}
