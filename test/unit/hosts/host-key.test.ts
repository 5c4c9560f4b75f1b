import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decideHostKey, hostKeyError, loadHostKeyPolicy } from '../../../src/hosts/host-key.js';
import type { SshTarget } from '../../../src/hosts/ssh-config.js';
import { parseHostUri, type HostUri } from '../../../src/hosts/uri.js';

const dir = mkdtempSync(join(tmpdir(), 'vmig-host-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sshString = (data: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, data.length]), data]);
function ed25519Blob(): Buffer {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
}
const key = ed25519Blob();
const pinned = ed25519Blob();

function target(name: string, overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    alias: 'h1',
    hostName: '10.0.0.1',
    port: 22,
    user: 'root',
    identityFiles: [],
    identitiesOnly: true,
    knownHostsFiles: [join(dir, name, '.ssh', 'known_hosts')],
    globalKnownHostsFiles: [join(dir, 'none')],
    hostKeyName: 'h1',
    ...overrides,
  };
}
const sshUri = (text: string) => parseHostUri(text) as Extract<HostUri, { kind: 'ssh' }>;

describe('decideHostKey with --accept-new-host-key', () => {
  it('creates a missing ~/.ssh 0700 and known_hosts 0600, and has written the key before accepting', async () => {
    const t = target('fresh');
    const decision = await decideHostKey(await loadHostKeyPolicy(t), t, key, true);
    expect(decision.accept).toBe(true);
    expect(statSync(join(dir, 'fresh', '.ssh')).mode & 0o777).toBe(0o700);
    expect(statSync(t.knownHostsFiles[0]!).mode & 0o777).toBe(0o600);
    expect(readFileSync(t.knownHostsFiles[0]!, 'utf8')).toBe(`h1 ssh-ed25519 ${key.toString('base64')}\n`);
    // And the next connection matches it.
    expect((await decideHostKey(await loadHostKeyPolicy(t), t, key, false)).check.verdict).toBe('match');
  });

  it('refuses a key it cannot save, with an error that says nothing was accepted', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    const t = target('x', { knownHostsFiles: [join(dir, 'a-file', '.ssh', 'known_hosts')] });
    const decision = await decideHostKey(await loadHostKeyPolicy(t), t, key, true);
    expect(decision.accept).toBe(false);
    expect(decision.saveError).toBeDefined();
    const error = hostKeyError(decision, sshUri('h1'), 'h1 (10.0.0.1:22)', t);
    expect(error.exitCode).toBe(3);
    expect(error.message).toMatch(
      new RegExp(
        `^could not record the host key of h1 \\(10\\.0\\.0\\.1:22\\) in ${join(dir, 'a-file')}/\\.ssh/known_hosts: .*; nothing was accepted$`,
      ),
    );
  });

  it('refuses a key that the global file pins otherwise, and writes nothing', async () => {
    const global = join(dir, 'ssh_known_hosts');
    writeFileSync(global, `h1 ssh-ed25519 ${pinned.toString('base64')}\n`);
    const t = target('pinned', { globalKnownHostsFiles: [global] });
    const decision = await decideHostKey(await loadHostKeyPolicy(t), t, key, true);
    expect(decision).toMatchObject({
      accept: false,
      check: { verdict: 'changed', offending: { path: global, line: 1 } },
    });
    expect(existsSync(t.knownHostsFiles[0]!)).toBe(false);
    expect(hostKeyError(decision, sshUri('h1'), 'h1 (10.0.0.1:22)', t).message).toMatch(
      new RegExp(
        `^REFUSED: the host key of h1 \\(10\\.0\\.0\\.1:22\\) does not match known_hosts \\(the ssh-ed25519 key on record at ${global}:1 differs\\); .* \\(ssh-keygen -f ${global} -R 'h1'\\)$`,
      ),
    );
    expect((await decideHostKey(await loadHostKeyPolicy(t), t, pinned, false)).accept).toBe(true);
  });
});

describe('hostKeyError', () => {
  it('names the host as the operator typed it in the "not in known_hosts" hint', async () => {
    const t = target('hint', { hostName: '127.0.0.1', port: 2222, hostKeyName: 'h1' });
    const decision = await decideHostKey(await loadHostKeyPolicy(t), t, key, false);
    expect(hostKeyError(decision, sshUri('h1'), 'h1 (127.0.0.1:2222)', t).message).toBe(
      'the host key of h1 (127.0.0.1:2222) is not in known_hosts (as "h1"); verify it and add it (ssh h1 once), or pass --accept-new-host-key',
    );
    expect(hostKeyError(decision, sshUri('ssh://ops@h1:2222'), 'ops@h1:2222 (127.0.0.1:2222)', t).message).toContain(
      '(ssh -p 2222 ops@h1 once)',
    );
  });
});
