import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHostUri, type HostUri } from '../../../src/hosts/uri.js';
import { resolveSshTarget } from '../../../src/hosts/ssh-config.js';

const HOME = '/home/tester';
let savedHome: string | undefined;

beforeEach(() => {
  savedHome = process.env.HOME;
  process.env.HOME = HOME;
});
afterEach(() => {
  if (savedHome === undefined) delete process.env.HOME;
  else process.env.HOME = savedHome;
});

const sshUri = (text: string) => parseHostUri(text) as Extract<HostUri, { kind: 'ssh' }>;

const CONFIG = SSHConfig.parse(`
Host h1
  HostName 10.0.0.11
  User migrator
  Port 2201
  IdentityFile ~/.ssh/vmig_ed25519
  IdentityFile /etc/vmig/%r@%h_key
  IdentitiesOnly yes
  UserKnownHostsFile ~/.ssh/vmig_known_hosts /etc/vmig/known_hosts
  HostKeyAlias h1-alias
  ConnectTimeout 7

Host bare
  HostName %h.lab.example

Host CapHost
  HostName HV9.Example
  Port 2222

Host aliased
  HostName 10.0.0.12
  Port 2222
  HostKeyAlias H2-Key

Host central
  GlobalKnownHostsFile /etc/vmig/global_known_hosts ~/extra_known_hosts
`);

describe('resolveSshTarget', () => {
  it('takes HostName, User and Port from the config', () => {
    const target = resolveSshTarget(sshUri('h1'), CONFIG);
    expect(target).toMatchObject({ alias: 'h1', hostName: '10.0.0.11', user: 'migrator', port: 2201 });
  });

  it('expands ~ and %-tokens in IdentityFile and keeps IdentitiesOnly', () => {
    const target = resolveSshTarget(sshUri('h1'), CONFIG);
    expect(target.identityFiles).toEqual([`${HOME}/.ssh/vmig_ed25519`, '/etc/vmig/migrator@10.0.0.11_key']);
    expect(target.identitiesOnly).toBe(true);
  });

  it('splits and expands UserKnownHostsFile, and uses HostKeyAlias and ConnectTimeout', () => {
    const target = resolveSshTarget(sshUri('h1'), CONFIG);
    expect(target.knownHostsFiles).toEqual([`${HOME}/.ssh/vmig_known_hosts`, '/etc/vmig/known_hosts']);
    expect(target.hostKeyName).toBe('h1-alias');
    expect(target.connectTimeoutMs).toBe(7000);
  });

  it('substitutes %h in HostName', () => {
    expect(resolveSshTarget(sshUri('bare'), CONFIG).hostName).toBe('bare.lab.example');
  });

  it('lets user and port in the URI override the config', () => {
    const target = resolveSshTarget(sshUri('ssh://root@h1:2299'), CONFIG);
    expect(target.user).toBe('root');
    expect(target.port).toBe(2299);
    expect(target.hostName).toBe('10.0.0.11');
  });

  it("falls back to OpenSSH's defaults for a host the config does not mention", () => {
    const target = resolveSshTarget(sshUri('ssh://ops@other.example'), CONFIG);
    expect(target).toMatchObject({
      alias: 'other.example',
      hostName: 'other.example',
      user: 'ops',
      port: 22,
      identitiesOnly: false,
    });
    expect(target.hostKeyName).toBe('other.example');
    expect(target.identityFiles).toEqual(['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => join(HOME, '.ssh', name)));
    expect(target.knownHostsFiles).toEqual([join(HOME, '.ssh', 'known_hosts'), join(HOME, '.ssh', 'known_hosts2')]);
    expect(target.globalKnownHostsFiles).toEqual(['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
    expect(target.connectTimeoutMs).toBeUndefined();
  });

  it('looks HostKeyAlias up bare, without the port, lowercased (as OpenSSH)', () => {
    expect(resolveSshTarget(sshUri('aliased'), CONFIG)).toMatchObject({ port: 2222, hostKeyName: 'h2-key' });
    expect(resolveSshTarget(sshUri('ssh://aliased:2299'), CONFIG).hostKeyName).toBe('h2-key');
  });

  it('looks a host without alias up as [host]:port off port 22, lowercased', () => {
    expect(resolveSshTarget(sshUri('CapHost'), CONFIG).hostKeyName).toBe('[hv9.example]:2222');
    expect(resolveSshTarget(sshUri('ssh://other.example:2200'), CONFIG).hostKeyName).toBe('[other.example]:2200');
  });

  it('takes GlobalKnownHostsFile from the config, split and expanded', () => {
    expect(resolveSshTarget(sshUri('central'), CONFIG).globalKnownHostsFiles).toEqual([
      '/etc/vmig/global_known_hosts',
      `${HOME}/extra_known_hosts`,
    ]);
  });
});
