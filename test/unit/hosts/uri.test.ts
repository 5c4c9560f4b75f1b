import { describe, expect, it } from 'vitest';
import { VmigError } from '../../../src/errors.js';
import { hostLabel, parseHostUri } from '../../../src/hosts/uri.js';

function badUri(text: string): VmigError {
  try {
    parseHostUri(text);
  } catch (error) {
    expect(error).toBeInstanceOf(VmigError);
    expect((error as VmigError).code).toBe('BAD_URI');
    return error as VmigError;
  }
  throw new Error(`expected "${text}" to be rejected`);
}

describe('parseHostUri', () => {
  it('parses local, with and without a vmig path', () => {
    expect(parseHostUri('local')).toEqual({ kind: 'local', text: 'local' });
    expect(parseHostUri('  local://  ')).toEqual({ kind: 'local', text: 'local' });
    expect(parseHostUri('local?vmig=/opt/vmig/bin/vmig')).toEqual({
      kind: 'local',
      text: 'local',
      vmigPath: '/opt/vmig/bin/vmig',
    });
  });

  it('parses ssh://user@host:port', () => {
    expect(parseHostUri('ssh://alice@h1.example:2222')).toEqual({
      kind: 'ssh',
      text: 'ssh://alice@h1.example:2222',
      host: 'h1.example',
      user: 'alice',
      port: 2222,
    });
  });

  it('parses ssh://host without user or port', () => {
    const uri = parseHostUri('ssh://h1');
    expect(uri).toEqual({ kind: 'ssh', text: 'ssh://h1', host: 'h1' });
  });

  it('takes the remote vmig path from ?vmig=', () => {
    const uri = parseHostUri('ssh://h1?vmig=/usr/local/bin/vmig');
    expect(uri.kind).toBe('ssh');
    expect(uri.vmigPath).toBe('/usr/local/bin/vmig');
  });

  it('unbrackets an IPv6 literal and keeps its port', () => {
    const uri = parseHostUri('ssh://[fd00::1]:2222');
    expect(uri).toMatchObject({ kind: 'ssh', host: 'fd00::1', port: 2222 });
  });

  it('accepts a bare host and user@host (resolved later through ~/.ssh/config)', () => {
    expect(parseHostUri('h2')).toEqual({ kind: 'ssh', text: 'h2', host: 'h2' });
    expect(parseHostUri('bob@h2.lan')).toEqual({ kind: 'ssh', text: 'bob@h2.lan', host: 'h2.lan', user: 'bob' });
    expect(parseHostUri('[fd00::2]')).toMatchObject({ kind: 'ssh', host: 'fd00::2' });
  });

  it('rejects an empty URI', () => {
    expect(badUri('').message).toMatch(/empty/);
    badUri('   ');
  });

  it('rejects other schemes', () => {
    expect(badUri('qemu+ssh://h1/system').message).toMatch(/unsupported host URI scheme/);
    badUri('tcp://h1:22');
  });

  it('rejects a password in the URL', () => {
    expect(badUri('ssh://alice:hunter2@h1').message).toMatch(/password/);
  });

  it('rejects a vmig path that is relative or carries shell characters', () => {
    badUri('ssh://h1?vmig=bin/vmig');
    expect(badUri('ssh://h1?vmig=/opt/vmig;rm%20-rf%20/').message).toMatch(
      /must be an absolute path of letters, digits and \. _ \/ \+ - only/,
    );
    badUri('ssh://h1?vmig=/opt/$(id)');
    badUri('local?vmig=/opt/a%20b');
  });

  it('rejects a vmig path that a shell would expand (braces, globs, tilde, newline)', () => {
    for (const path of [
      '/{usr/bin/touch,tmp/x}',
      '/usr/bin/vm*',
      '/usr/bin/vmi?',
      '/opt/[a]/vmig',
      '/opt/~root/vmig',
      '/opt/vmig%0Aid',
      '/opt/v!g',
      '/opt/a,b',
    ]) {
      expect(badUri(`ssh://h1?vmig=${path}`).code).toBe('BAD_URI');
    }
    expect(parseHostUri('ssh://h1?vmig=/opt/vmig-2.1_rc%2B1/bin/vmig')).toMatchObject({
      vmigPath: '/opt/vmig-2.1_rc+1/bin/vmig',
    });
  });

  it('rejects unknown parameters, naming them', () => {
    expect(badUri('ssh://h1?transport=tls').message).toContain('"transport"');
    badUri('local?foo=1');
  });

  it('rejects a path component, suggesting ?vmig=', () => {
    expect(badUri('ssh://h1/opt/vmig').message).toContain('?vmig=/opt/vmig');
  });

  it('rejects invalid bare hosts and user names', () => {
    badUri('h1 h2');
    badUri('-oProxyCommand=sh');
    badUri('1bad user@h1');
    badUri('ssh://');
  });

  it('rejects a bare host with more than one "@" instead of dropping a part', () => {
    // "alice@bob@h3" must not silently become user alice on host bob.
    badUri('alice@bob@h3');
  });
});

describe('hostLabel', () => {
  it('is "local" for the local host', () => {
    expect(hostLabel(parseHostUri('local?vmig=/x/vmig'))).toBe('local');
  });

  it('shows user, host and port without parameters', () => {
    expect(hostLabel(parseHostUri('ssh://alice@h1:2222?vmig=/x/vmig'))).toBe('alice@h1:2222');
    expect(hostLabel(parseHostUri('h2'))).toBe('h2');
  });

  it('keeps an IPv6 literal with a port unambiguous', () => {
    expect(hostLabel(parseHostUri('ssh://[fd00::1]:2222'))).toBe('[fd00::1]:2222');
  });
});
