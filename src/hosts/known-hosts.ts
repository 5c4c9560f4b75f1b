// ~/.ssh/known_hosts checking, as OpenSSH does it: plain and hashed (|1|salt|hash) host patterns,
// [host]:port for non-standard ports, @revoked markers. Pure: takes the file's text.
import { createHmac } from 'node:crypto';

export type HostKeyVerdict = 'match' | 'unknown' | 'changed' | 'revoked';

interface Entry {
  marker?: string;
  patterns: string;
  keyType: string;
  keyBase64: string;
}

function parseEntries(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [patterns, keyType, keyBase64] = fields;
    if (!patterns || !keyType || !keyBase64) continue;
    entries.push({ ...(marker ? { marker } : {}), patterns, keyType, keyBase64 });
  }
  return entries;
}

/** The name OpenSSH looks up: "host" on port 22, "[host]:port" otherwise. */
export const knownHostsName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

function hashedMatches(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
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

/** Checks `key` (the raw SSH public key blob) offered by `names` (host name and address, already port-qualified). */
export function verifyHostKey(knownHostsText: string, names: string[], key: Buffer): HostKeyVerdict {
  const offered = key.toString('base64');
  const relevant = parseEntries(knownHostsText).filter((entry) => names.some((name) => patternsMatch(entry.patterns, name)));
  if (relevant.some((entry) => entry.marker === '@revoked' && entry.keyBase64 === offered)) return 'revoked';
  const plain = relevant.filter((entry) => entry.marker === undefined);
  if (plain.some((entry) => entry.keyBase64 === offered)) return 'match';
  // Any other key on record for this host means it is not the host we knew: refuse, as OpenSSH does.
  return plain.length > 0 ? 'changed' : 'unknown';
}

/** The key type named inside an SSH public key blob (string length prefix, then e.g. "ssh-ed25519"). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return '';
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString('latin1');
}

export const knownHostsLine = (name: string, key: Buffer): string => `${name} ${keyTypeOf(key)} ${key.toString('base64')}\n`;

/** SHA256 fingerprint as OpenSSH prints it. */
export async function fingerprint(key: Buffer): Promise<string> {
  const { createHash } = await import('node:crypto');
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}
