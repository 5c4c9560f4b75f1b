// The storage rows of the options table: --copy-storage-*, --migrate-disks, --storage-map, from the command line
// (through commander, as `vmig migrate` parses them) and from the config file, into MigrateRequest.storage.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { migrationOptionsFor } from '../../../src/cli/commands/evacuate.js';
import { parseConfig } from '../../../src/config/load.js';
import { VmigError } from '../../../src/errors.js';
import { addMigrationOptions } from '../../../src/options/commander.js';
import { resolveMigrationOptions } from '../../../src/options/resolve.js';

/** The flags as commander hands them to the action. */
const flagsOf = (argv: string[], name: 'migrate' | 'evacuate' = 'migrate'): Record<string, unknown> => {
  const command = addMigrationOptions(new Command('x'), name).exitOverride();
  command.parse(argv, { from: 'user' });
  return command.opts();
};
const resolve = (argv: string[], config?: string, host = 'hv2') =>
  resolveMigrationOptions(flagsOf(argv), config === undefined ? undefined : parseConfig(config, 'c.toml'), host);

/** The one-line usage error `fn` throws. */
const usage = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VmigError);
    expect((error as VmigError).code).toBe('USAGE');
    expect((error as VmigError).message).not.toContain('\n');
    return (error as VmigError).message;
  }
  throw new Error('no error thrown');
};

describe('storage options from the command line', () => {
  it('fills request.storage from every flag; --storage-map repeats and --migrate-disks is a comma list', () => {
    expect(
      resolve([
        '--copy-storage-all',
        '--migrate-disks',
        'vda, vdb',
        '--copy-storage-synchronous-writes',
        '--storage-map',
        '/srv/local/=/srv/big',
        '--storage-map',
        '/var/lib/a=/var/lib/b',
      ]).storage,
    ).toEqual({
      copyAll: true,
      migrateDisks: ['vda', 'vdb'],
      synchronousWrites: true,
      storageMap: [
        { from: '/srv/local', to: '/srv/big' },
        { from: '/var/lib/a', to: '/var/lib/b' },
      ],
    });
    expect(resolve(['--copy-storage-inc']).storage).toEqual({ copyInc: true });
  });

  it('has no storage without a copy flag', () => {
    expect(resolve([])).not.toHaveProperty('storage');
  });

  it('refuses bad values and combinations with one line each, as before', () => {
    expect(usage(() => resolve(['--copy-storage-all', '--migrate-disks', 'vda,/dev/sdb']))).toBe(
      '--migrate-disks takes disk targets such as vda,vdb, not "/dev/sdb"',
    );
    expect(usage(() => resolve(['--copy-storage-all', '--migrate-disks', 'vda,']))).toBe(
      '--migrate-disks takes disk targets such as vda,vdb, not ""',
    );
    expect(usage(() => resolve(['--copy-storage-all', '--storage-map', 'srv=/big']))).toBe(
      '--storage-map srv=/big: expected SOURCE_DIR=DESTINATION_DIR, both absolute',
    );
    expect(usage(() => resolve(['--copy-storage-all', '--copy-storage-inc']))).toBe(
      '--copy-storage-all and --copy-storage-inc exclude each other',
    );
    expect(usage(() => resolve(['--migrate-disks', 'vda']))).toBe(
      '--migrate-disks needs --copy-storage-all or --copy-storage-inc',
    );
    expect(usage(() => resolve(['--copy-storage-synchronous-writes']))).toBe(
      '--copy-storage-synchronous-writes needs --copy-storage-all or --copy-storage-inc',
    );
    expect(usage(() => resolve(['--storage-map', '/a=/b']))).toBe(
      '--storage-map needs --copy-storage-all or --copy-storage-inc',
    );
    expect(usage(() => resolve(['--copy-storage-inc', '--postcopy']))).toMatch(
      /^post-copy cannot be combined with --copy-storage-all\/--copy-storage-inc: /,
    );
  });
});

describe('storage options from the config file', () => {
  it('takes copy_storage_* and a per-host storage_map; the host entry wins over the top level', () => {
    const config = `
copy_storage_all = true
copy_storage_synchronous_writes = true
storage_map = ["/a=/b"]
[hosts.hv2]
uri = "ssh://root@10.0.0.2"
storage_map = ["/srv/local=/srv/big", "/x=/y"]
`;
    expect(resolve([], config).storage).toEqual({
      copyAll: true,
      synchronousWrites: true,
      storageMap: [
        { from: '/srv/local', to: '/srv/big' },
        { from: '/x', to: '/y' },
      ],
    });
    expect(resolve([], config, 'hv3').storage?.storageMap).toEqual([{ from: '/a', to: '/b' }]);
    // The flag replaces the file's list rather than adding to it.
    expect(resolve(['--storage-map', '/m=/n'], config).storage?.storageMap).toEqual([{ from: '/m', to: '/n' }]);
  });

  it('applies a storage_map only to runs that copy disks', () => {
    const config = '[hosts.hv2]\nuri = "ssh://root@10.0.0.2"\nstorage_map = ["/srv/local=/srv/big"]\n';
    expect(resolve([], config)).not.toHaveProperty('storage');
    expect(resolve(['--copy-storage-all'], config).storage).toEqual({
      copyAll: true,
      storageMap: [{ from: '/srv/local', to: '/srv/big' }],
    });
  });

  it('lets a copy flag replace the file choice of the two copy modes', () => {
    expect(resolve(['--copy-storage-inc'], 'copy_storage_all = true\n').storage).toEqual({ copyInc: true });
  });

  it('refuses bad config values, naming the key', () => {
    expect(() => parseConfig('storage_map = ["relative=/b"]\n', 'c.toml')).toThrow(/storage_map/);
    expect(() => parseConfig('storage_map = "/a=/b"\n', 'c.toml')).toThrow(/storage_map/);
    expect(() => parseConfig('copy_storage_all = "yes"\n', 'c.toml')).toThrow(/copy_storage_all/);
    // Disk targets name one guest's disks: no key for them.
    expect(() => parseConfig('migrate_disks = ["vda"]\n', 'c.toml')).toThrow(/migrate_disks/);
  });
});

describe('evacuate', () => {
  const globals = { connect: 'hv1', json: false, quiet: false, verbose: false, color: false, debug: false };

  it('takes --copy-storage-all with its storage map and marks the copy per guest (whereLocal)', () => {
    const flags = flagsOf(['--copy-storage-all', '--storage-map', '/a=/b'], 'evacuate');
    expect(migrationOptionsFor({ ...globals, acceptNewHostKey: false }, flags, ['hv2'])('hv2').storage).toEqual({
      copyAll: true,
      storageMap: [{ from: '/a', to: '/b' }],
      whereLocal: true,
    });
    expect(migrationOptionsFor({ ...globals, acceptNewHostKey: false }, {}, ['hv2'])('hv2')).not.toHaveProperty(
      'storage',
    );
  });

  it('ignores the config keys of options it does not take (copy_storage_inc)', () => {
    const settings = parseConfig('copy_storage_inc = true\n', 'c.toml');
    const resolved = migrationOptionsFor({ ...globals, acceptNewHostKey: false, settings }, {}, ['hv2'])('hv2');
    expect(resolved).not.toHaveProperty('storage');
  });

  it('takes --p2p and the p2p config key: each guest goes over ssh from the source host', () => {
    expect(
      migrationOptionsFor({ ...globals, acceptNewHostKey: false }, flagsOf(['--p2p'], 'evacuate'), ['hv2'])('hv2'),
    ).toMatchObject({ transport: 'ssh', p2p: true });
    const settings = parseConfig('p2p = true\n', 'c.toml');
    expect(migrationOptionsFor({ ...globals, acceptNewHostKey: false, settings }, {}, ['hv2'])('hv2').p2p).toBe(true);
  });

  it('does not take --copy-storage-inc or --migrate-disks', () => {
    expect(() => flagsOf(['--copy-storage-inc'], 'evacuate')).toThrow(/unknown option/);
    expect(() => flagsOf(['--migrate-disks', 'vda'], 'evacuate')).toThrow(/unknown option/);
  });
});
