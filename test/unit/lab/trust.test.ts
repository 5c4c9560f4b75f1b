import { describe, expect, it } from 'vitest';
import type { LabHost } from '../../../src/lab/lab.js';
import { p2pSshConfigText, trustFiles } from '../../../src/lab/trust.js';

const host = (name: string, ipv4: string): LabHost => ({
  name,
  ns: `vmig-1-1-${name}`,
  ipv4,
  stateDir: `/tmp/vl/${name}/state`,
  dir: `/tmp/vl/${name}`,
  home: `/tmp/vl/${name}/home`,
  port: 'p1',
  privateDir: `/tmp/vl/${name}/private`,
});

describe('lab host-to-host SSH trust', () => {
  it('names each trusted destination by its lab name and address, strict about its own files only', () => {
    const files = trustFiles(host('h1', '10.231.1.11'));
    expect(files).toEqual({
      sshConfig: '/tmp/vl/h1/p2p_ssh_config',
      knownHosts: '/tmp/vl/h1/p2p_known_hosts',
      identity: '/tmp/vl/h1/p2p_id',
    });
    const text = p2pSshConfigText([host('h2', '10.231.1.12'), host('h3', '10.231.1.13')], files);
    expect(text.split('\n').filter((line) => line.startsWith('Host '))).toEqual([
      'Host h2 10.231.1.12',
      'Host h3 10.231.1.13',
    ]);
    expect(text).toContain('  HostName 10.231.1.12\n');
    expect(text).toContain('  IdentityFile /tmp/vl/h1/p2p_id\n  IdentitiesOnly yes\n');
    expect(text).toContain('  UserKnownHostsFile /tmp/vl/h1/p2p_known_hosts\n  GlobalKnownHostsFile /dev/null\n');
  });
});
