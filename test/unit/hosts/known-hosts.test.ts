import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkHostKey,
  fingerprint,
  hostKeyAlgorithms,
  keyTypeOf,
  knownHostsLine,
  knownHostsName,
  knownKeyTypes,
  verifyHostKey,
} from '../../../src/hosts/known-hosts.js';

/** SSH wire string: uint32 length, then the bytes. */
const sshString = (data: Buffer): Buffer => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
};

/** A real ssh-ed25519 public key blob: string "ssh-ed25519" + string(32-byte raw key). */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
}

/** A hashed host pattern, as `ssh-keygen -H` / HashKnownHosts writes it. */
function hashedName(name: string): string {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hash}`;
}

/** A real ecdsa-sha2-nistp256 public key blob: string type, string curve, string(point). */
function ecdsaBlob(): Buffer {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const point = publicKey.export({ format: 'der', type: 'spki' }).subarray(-65);
  return Buffer.concat([
    sshString(Buffer.from('ecdsa-sha2-nistp256')),
    sshString(Buffer.from('nistp256')),
    sshString(point),
  ]);
}

const key = ed25519Blob();
const otherKey = ed25519Blob();
const b64 = (blob: Buffer) => blob.toString('base64');

describe('knownHostsName', () => {
  it('is the bare host on port 22 and [host]:port otherwise', () => {
    expect(knownHostsName('h1', 22)).toBe('h1');
    expect(knownHostsName('10.0.0.2', 2222)).toBe('[10.0.0.2]:2222');
  });

  it('is lowercased, as OpenSSH lowercases names before matching (hashed entries hash the lowercase name)', () => {
    expect(knownHostsName('HV1.Example', 22)).toBe('hv1.example');
    expect(knownHostsName('HV1', 2222)).toBe('[hv1]:2222');
  });
});

describe('verifyHostKey', () => {
  it('matches a plain entry', () => {
    const text = `# comment\n\nh1 ssh-ed25519 ${b64(key)}\n`;
    expect(verifyHostKey(text, ['h1'], key)).toBe('match');
  });

  it('matches any name in a comma-separated pattern list, and wildcards', () => {
    const text = `h1,10.0.0.1 ssh-ed25519 ${b64(key)}\n*.lab.example ssh-ed25519 ${b64(otherKey)}\n`;
    expect(verifyHostKey(text, ['unknown-name', '10.0.0.1'], key)).toBe('match');
    expect(verifyHostKey(text, ['h9.lab.example'], otherKey)).toBe('match');
  });

  it('honours a negated pattern', () => {
    const text = `*.lab.example,!h9.lab.example ssh-ed25519 ${b64(key)}\n`;
    expect(verifyHostKey(text, ['h9.lab.example'], key)).toBe('unknown');
  });

  it('treats [host]:port entries as distinct from the host on port 22', () => {
    const text = `[h1]:2222 ssh-ed25519 ${b64(key)}\n`;
    expect(verifyHostKey(text, [knownHostsName('h1', 2222)], key)).toBe('match');
    expect(verifyHostKey(text, [knownHostsName('h1', 22)], key)).toBe('unknown');
  });

  it('matches hashed |1|salt|hash entries, including port-qualified names', () => {
    const text = `${hashedName('h1')} ssh-ed25519 ${b64(key)}\n${hashedName('[h2]:2222')} ssh-ed25519 ${b64(otherKey)}\n`;
    expect(verifyHostKey(text, ['h1'], key)).toBe('match');
    expect(verifyHostKey(text, ['[h2]:2222'], otherKey)).toBe('match');
    expect(verifyHostKey(text, ['h2'], otherKey)).toBe('unknown');
    expect(verifyHostKey(text, ['h1'], otherKey)).toBe('changed');
  });

  it('reports a @revoked key even when a plain entry also lists it', () => {
    const text = `h1 ssh-ed25519 ${b64(key)}\n@revoked h1 ssh-ed25519 ${b64(key)}\n`;
    expect(verifyHostKey(text, ['h1'], key)).toBe('revoked');
  });

  it('does not count a @revoked entry for another key as knowing the host', () => {
    const text = `@revoked h1 ssh-ed25519 ${b64(otherKey)}\n`;
    expect(verifyHostKey(text, ['h1'], key)).toBe('unknown');
  });

  it('distinguishes unknown (no entry) from changed (another key on record)', () => {
    const text = `h1 ssh-ed25519 ${b64(otherKey)}\n`;
    expect(verifyHostKey(text, ['h2'], key)).toBe('unknown');
    expect(verifyHostKey(text, ['h1'], key)).toBe('changed');
    expect(verifyHostKey('', ['h1'], key)).toBe('unknown');
  });
});

describe('checkHostKey: key types and several files, as OpenSSH', () => {
  const ecdsa = ecdsaBlob();

  it('treats a key of a type not on record as unknown, not changed, and says which types are known', () => {
    const files = [{ path: '/u/known_hosts', text: `h1 ecdsa-sha2-nistp256 ${b64(ecdsa)}\n` }];
    expect(checkHostKey(files, ['h1'], key)).toEqual({ verdict: 'unknown', knownTypes: ['ecdsa-sha2-nistp256'] });
    expect(checkHostKey(files, ['h1'], ecdsa).verdict).toBe('match');
    expect(checkHostKey(files, ['h1'], ecdsaBlob())).toEqual({
      verdict: 'changed',
      knownTypes: ['ecdsa-sha2-nistp256'],
      offending: { path: '/u/known_hosts', line: 1 },
    });
    expect(verifyHostKey(files[0]!.text, ['h1'], key)).toBe('unknown');
  });

  it('reads the type from the key blob, not from the label in the line', () => {
    const text = `h1 ssh-ed25519 ${b64(ecdsa)}\n`;
    expect(knownKeyTypes([{ path: 'k', text }], ['h1'])).toEqual(['ecdsa-sha2-nistp256']);
    expect(verifyHostKey(text, ['h1'], key)).toBe('unknown');
  });

  it('reads the user and the global files together: a global pin makes another key "changed", naming its file and line', () => {
    const user = { path: '/home/u/.ssh/known_hosts', text: '# nothing for h1\n' };
    const global = {
      path: '/etc/ssh/ssh_known_hosts',
      text: `# managed\nh9 ssh-ed25519 ${b64(otherKey)}\nh1 ssh-ed25519 ${b64(otherKey)}\n`,
    };
    expect(checkHostKey([user, global], ['h1'], key)).toMatchObject({
      verdict: 'changed',
      offending: { path: '/etc/ssh/ssh_known_hosts', line: 3 },
    });
    expect(checkHostKey([user, global], ['h1'], otherKey).verdict).toBe('match');
    // A match in any file wins over a stale key in another (OpenSSH returns HOST_OK on the first match).
    const stale = { path: '/home/u/.ssh/known_hosts', text: `h1 ssh-ed25519 ${b64(key)}\n` };
    expect(checkHostKey([stale, global], ['h1'], otherKey).verdict).toBe('match');
  });

  it('matches hashed entries of a name written in capitals', () => {
    const text = `${hashedName('hv1.example')} ssh-ed25519 ${b64(key)}\n`;
    expect(verifyHostKey(text, [knownHostsName('HV1.Example', 22)], key)).toBe('match');
    expect(verifyHostKey(text, ['HV1.Example'], key)).toBe('match');
  });
});

describe('hostKeyAlgorithms', () => {
  it("offers OpenSSH's default order when nothing is on record", () => {
    expect(hostKeyAlgorithms([])).toEqual([
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'rsa-sha2-512',
      'rsa-sha2-256',
    ]);
  });

  it('offers the types on record first', () => {
    expect(hostKeyAlgorithms(['ecdsa-sha2-nistp256'])).toEqual([
      'ecdsa-sha2-nistp256',
      'ssh-ed25519',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'rsa-sha2-512',
      'rsa-sha2-256',
    ]);
    expect(hostKeyAlgorithms(['ssh-rsa']).slice(0, 2)).toEqual(['rsa-sha2-512', 'rsa-sha2-256']);
  });
});

describe('keyTypeOf / knownHostsLine / fingerprint', () => {
  it('reads the key type from a real ed25519 blob', () => {
    expect(key.length).toBe(4 + 11 + 4 + 32);
    expect(keyTypeOf(key)).toBe('ssh-ed25519');
    expect(keyTypeOf(Buffer.alloc(2))).toBe('');
  });

  it('writes a line that verifies back as a match', () => {
    const line = knownHostsLine('[h1]:2222', key);
    expect(line).toBe(`[h1]:2222 ssh-ed25519 ${b64(key)}\n`);
    expect(verifyHostKey(line, ['[h1]:2222'], key)).toBe('match');
  });

  it('prints an OpenSSH-style SHA256 fingerprint without padding', async () => {
    const print = await fingerprint(key);
    expect(print).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(await fingerprint(otherKey)).not.toBe(print);
  });
});
