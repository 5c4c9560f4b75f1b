import { describe, expect, it } from 'vitest';
import { parseDomain, parseDomainFile, requiredPaths } from '../../../src/domain/definition.js';
import { VmigError } from '../../../src/errors.js';

const minimal = { name: 'web1', memoryMiB: 128, kernel: '/var/lib/vmig/guest.bin' };

function rejection(input: unknown): string {
  try {
    parseDomain(input, 'web1.json');
  } catch (error) {
    expect(error).toBeInstanceOf(VmigError);
    expect((error as VmigError).code).toBe('BAD_DOMAIN_FILE');
    expect((error as VmigError).exitCode).toBe(2);
    return (error as VmigError).message;
  }
  throw new Error('expected the definition to be rejected');
}

describe('parseDomain', () => {
  it('fills in defaults and generates a uuid for a minimal file', () => {
    const domain = parseDomain(minimal);
    expect(domain).toMatchObject({ ...minimal, vcpus: 1, machine: 'pc', accel: 'auto', disks: [], extraArgs: [] });
    expect(domain.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseDomain(minimal).uuid).not.toBe(domain.uuid);
  });

  it('keeps a given uuid and fills disk defaults', () => {
    const uuid = '0b9d3c1e-6f1a-4c4e-9a57-2f4a1b7c9d10';
    const domain = parseDomain({ name: 'db', memoryMiB: 256, uuid, disks: [{ path: '/srv/db.img' }] });
    expect(domain.uuid).toBe(uuid);
    expect(domain.disks).toEqual([
      { path: '/srv/db.img', format: 'raw', bus: 'virtio', readonly: false, target: 'vda' },
    ]);
    expect(requiredPaths(domain)).toEqual(['/srv/db.img']);
  });

  it('names disks vda, vdb… and hda… by bus when they have no target, around the targets given', () => {
    const disks = [
      { path: '/a' },
      { path: '/b', target: 'vda' },
      { path: '/c', bus: 'ide' },
      { path: '/d', shared: false },
    ];
    const domain = parseDomain({ name: 'db', memoryMiB: 256, disks });
    expect(domain.disks.map((disk) => disk.target)).toEqual(['vdb', 'vda', 'hda', 'vdc']);
    expect(domain.disks[3]!.shared).toBe(false);
    expect(domain.disks[0]!.shared).toBeUndefined();
  });

  it('refuses two disks with one target, and a target that is no disk name', () => {
    expect(
      rejection({
        ...minimal,
        disks: [
          { path: '/a', target: 'vda' },
          { path: '/b', target: 'vda' },
        ],
      }),
    ).toContain('two disks have the same target');
    expect(rejection({ ...minimal, disks: [{ path: '/a', target: 'VDA' }] })).toContain('field "disks.0.target"');
  });

  it('names an unknown field', () => {
    const message = rejection({ ...minimal, memroyMiB: 256 });
    expect(message).toContain('web1.json');
    expect(message).toContain('unknown field "memroyMiB"');
  });

  it('names memoryMiB when it is too small or not an integer', () => {
    expect(rejection({ ...minimal, memoryMiB: 8 })).toContain('field "memoryMiB"');
    expect(rejection({ ...minimal, memoryMiB: 128.5 })).toContain('field "memoryMiB"');
  });

  it('names the name field when it is not shell-safe', () => {
    expect(rejection({ ...minimal, name: 'web 1;rm' })).toContain('field "name"');
    expect(rejection({ ...minimal, name: 'x'.repeat(49) })).toContain('field "name"');
  });

  it('rejects a relative kernel path', () => {
    expect(rejection({ ...minimal, kernel: 'guest.bin' })).toMatch(/field "kernel" must be an absolute path/);
  });

  it('rejects a relative disk path, naming the disk', () => {
    expect(rejection({ name: 'db', memoryMiB: 64, disks: [{ path: 'db.img' }] })).toContain('field "disks.0.path"');
  });

  it('rejects an initrd without a kernel', () => {
    const message = rejection({
      name: 'db',
      memoryMiB: 64,
      initrd: '/boot/initrd.img',
      disks: [{ path: '/srv/db.img' }],
    });
    expect(message).toContain('field "initrd"');
    expect(message).toContain('need a kernel');
  });

  it('rejects a definition with neither kernel nor disk', () => {
    expect(rejection({ name: 'db', memoryMiB: 64 })).toMatch(/field "kernel" needs a kernel or at least one disk/);
  });
});

describe('parseDomainFile', () => {
  it('parses the text of a valid file', () => {
    expect(parseDomainFile(JSON.stringify(minimal), 'web1.json').name).toBe('web1');
  });

  it('reports invalid JSON as BAD_DOMAIN_FILE naming the file', () => {
    let caught: unknown;
    try {
      parseDomainFile('{ "name": "web1", ', 'web1.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(VmigError);
    expect((caught as VmigError).code).toBe('BAD_DOMAIN_FILE');
    expect((caught as VmigError).message).toMatch(/^web1\.json: not valid JSON/);
  });
});
