import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configSources, loadConfig, mergeConfigs, parseConfig, userConfigPath } from '../../../src/config/load.js';
import { resolveHost } from '../../../src/config/resolve.js';
import { ExitCode } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'vmig-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('parseConfig', () => {
  it('accepts the documented keys', () => {
    const config = parseConfig(
      `connect = "hv1"\ntransport = "tls"\nmigration_address = "10.0.9.1"\nmigration_ports = [50000, 50010]\nbandwidth_mibs = 100\nmax_downtime_ms = 300\n[hosts.hv2]\nuri = "ssh://root@10.0.0.2"\nvmig = "/opt/vmig/bin/vmig"\nmigration_address = "10.0.9.2"\n`,
      'x.toml',
    );
    expect(config).toMatchObject({
      connect: 'hv1',
      transport: 'tls',
      migration_ports: [50000, 50010],
      hosts: { hv2: { uri: 'ssh://root@10.0.0.2', vmig: '/opt/vmig/bin/vmig' } },
    });
  });

  it('refuses unknown keys, naming them with their path, as a usage error', () => {
    expect(() => parseConfig('colour = "blue"\n', '/etc/vmig/config.toml')).toThrow(
      'config /etc/vmig/config.toml: unknown key colour',
    );
    expect(() => parseConfig('[hosts.hv2]\nurl = "ssh://x"\n', 'c.toml')).toThrow(
      'config c.toml: unknown key hosts.hv2.url',
    );
    try {
      parseConfig('x = 1', 'c.toml');
    } catch (error) {
      expect((error as { exitCode: number }).exitCode).toBe(ExitCode.usage);
    }
  });

  it('names the key of a bad value, and reports TOML syntax errors', () => {
    expect(() => parseConfig('transport = "carrier-pigeon"\n', 'c.toml')).toThrow(/config c\.toml: transport: /);
    expect(() => parseConfig('migration_ports = [9, 3]\n', 'c.toml')).toThrow(/migration_ports: must be \[from, to\]/);
    expect(() => parseConfig('[hosts.hv2]\nvmig = "relative/vmig"\n', 'c.toml')).toThrow(
      /hosts\.hv2\.vmig: must be an absolute path/,
    );
    // Brace expansion in a remote shell would run other programs.
    expect(() => parseConfig('[hosts.hv2]\nvmig = "/{usr/bin/touch,tmp/x}"\n', 'c.toml')).toThrow(
      /hosts\.hv2\.vmig: must be an absolute path of letters, digits/,
    );
    expect(() => parseConfig('connect = \n', 'c.toml')).toThrow(/^config c\.toml: /);
  });
});

describe('loading and merging', () => {
  it('system < user < explicit, key by key, hosts merged per alias', async () => {
    const system = file(
      'system.toml',
      'connect = "sys"\ntransport = "ssh"\n[hosts.hv2]\nuri = "ssh://10.0.0.2"\nvmig = "/usr/bin/vmig"\n',
    );
    const user = file('user.toml', 'transport = "tls"\n[hosts.hv2]\nvmig = "/opt/vmig"\n');
    const explicit = file('explicit.toml', 'connect = "mine"\n');
    expect(await loadConfig({ system, user, explicit })).toEqual({
      connect: 'mine',
      transport: 'tls',
      hosts: { hv2: { uri: 'ssh://10.0.0.2', vmig: '/opt/vmig' } },
    });
  });

  it('ignores absent system and user files but not an explicit one', async () => {
    expect(await loadConfig({ system: join(dir, 'none1'), user: join(dir, 'none2'), explicit: undefined })).toEqual({});
    await expect(
      loadConfig({ system: join(dir, 'none1'), user: join(dir, 'none2'), explicit: join(dir, 'none3') }),
    ).rejects.toThrow(/cannot read config .*none3: no such file/);
  });

  it('finds the user file under XDG_CONFIG_HOME, else ~/.config; --config beats VMIG_CONFIG', () => {
    expect(userConfigPath({ XDG_CONFIG_HOME: '/x', HOME: '/home/a' })).toBe('/x/vmig/config.toml');
    expect(userConfigPath({ HOME: '/home/a' })).toBe('/home/a/.config/vmig/config.toml');
    expect(configSources(undefined, { VMIG_CONFIG: '/e.toml', HOME: '/h' }).explicit).toBe('/e.toml');
    expect(configSources('/flag.toml', { VMIG_CONFIG: '/e.toml', HOME: '/h' }).explicit).toBe('/flag.toml');
    expect(mergeConfigs([undefined, { connect: 'a' }, { connect: 'b' }])).toEqual({ connect: 'b' });
  });
});

describe('resolveHost', () => {
  const config = parseConfig(
    'migration_ports = [50000, 50010]\nbandwidth_mibs = 10\n[hosts.hv2]\nuri = "ssh://root@10.0.0.2:2222"\nvmig = "/opt/vmig/bin/vmig"\nbandwidth_mibs = 50\n[hosts.bare]\nvmig = "/v"\n[hosts.lo]\nuri = "local"\nvmig = "/v"\n',
    'c.toml',
  );

  it('turns an alias into its uri with its vmig path, and leaves other names alone', () => {
    expect(resolveHost(config, 'hv2').uri).toBe('ssh://root@10.0.0.2:2222?vmig=/opt/vmig/bin/vmig');
    expect(resolveHost(config, 'bare').uri).toBe('ssh://bare?vmig=/v');
    expect(resolveHost(config, 'lo').uri).toBe('local?vmig=/v');
    expect(resolveHost(config, 'other')).toEqual({ uri: 'other', settings: {} });
    expect(resolveHost(undefined, 'hv2').uri).toBe('hv2');
  });

  it('refuses a bad migration key value with the key named', () => {
    expect(() => parseConfig('timeout_action = "later"\n', 'c.toml')).toThrow(/timeout_action/);
    expect(() => parseConfig('[hosts.hv2]\ndowntime_steps = 40\n', 'c.toml')).toThrow(/hosts\.hv2\.downtime_steps/);
    expect(() => parseConfig('migration_ports = [50010, 50000]\n', 'c.toml')).toThrow(/migration_ports/);
  });
});
