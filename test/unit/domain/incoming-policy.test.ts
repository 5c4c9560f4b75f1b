// Audit item 2, the pure part: what a destination accepts from a source's definition.
import { describe, expect, it } from 'vitest';
import { parseDomain } from '../../../src/domain/definition.js';
import {
  DEFAULT_DISK_PATHS,
  definitionDifferences,
  judgeStoredDefinition,
  refuseExtraArgs,
  refuseHostFile,
  type IncomingPolicy,
} from '../../../src/domain/incoming-policy.js';

const defaults: IncomingPolicy = { extraArgs: 'devices', diskPaths: DEFAULT_DISK_PATHS };

describe('extraArgs', () => {
  it('"devices" (the default) takes emulated devices, README\'s virtio-rng-pci among them', () => {
    expect(refuseExtraArgs([], 'devices')).toBeUndefined();
    expect(refuseExtraArgs(['-device', 'virtio-rng-pci'], 'devices')).toBeUndefined();
    expect(
      refuseExtraArgs(
        ['-device', 'e1000,id=n1,mac=52:54:00:12:34:56', '-device', 'virtio-balloon-pci,id=b0'],
        'devices',
      ),
    ).toBeUndefined();
  });

  it('"devices" refuses anything that opens a host file, device or backend', () => {
    const cases: Array<[string[], RegExp]> = [
      [['-chardev', 'file,id=c0,path=/etc/x'], /extraArgs "-chardev" is not a -device option/],
      [['-drive', 'file=/dev/sda,if=virtio'], /"-drive" is not a -device/],
      [['-object', 'secret,id=s0,file=/etc/shadow'], /"-object" is not a -device/],
      [['-device'], /"-device" is not a -device option/],
      [['-device', 'loader,file=/etc/shadow,addr=0x1000'], /-device loader attaches a host resource/],
      [['-device', 'vfio-pci,host=0000:01:00.0'], /-device vfio-pci attaches a host resource/],
      [['-device', 'usb-host,hostbus=1,hostaddr=2'], /-device usb-host attaches a host resource/],
      [['-device', 'e1000,romfile=/etc/shadow'], /sets romfile=/],
      [['-device', 'e1000,romfile=shadow'], /sets romfile=/],
      [['-device', 'virtserialport,chardev=compat_monitor0'], /sets chardev=/],
      [['-device', 'virtio-blk-pci,drive=virtio0'], /sets drive=/],
      [['-device', 'isa-debugcon,iobase=0x402,x=a/b'], /has a path in x=/],
      [['-device', '{"driver":"loader","file":"/etc/shadow"}'], /JSON form/],
      [['-device', 'virtio-rng-pci', '-monitor', 'unix:/tmp/m,server'], /"-monitor" is not a -device/],
    ];
    for (const [args, reason] of cases) expect(refuseExtraArgs(args, 'devices'), args.join(' ')).toMatch(reason);
    expect(refuseExtraArgs(['-chardev', 'file,id=c0,path=/etc/x'], 'devices')).toMatch(
      /incoming_extra_args = "devices" takes only -device options .*set "allow"/,
    );
  });

  it('"refuse" takes none, "allow" takes everything', () => {
    expect(refuseExtraArgs(['-device', 'virtio-rng-pci'], 'refuse')).toMatch(
      /extraArgs are refused here \(host.toml incoming_extra_args = "refuse"\)/,
    );
    expect(refuseExtraArgs([], 'refuse')).toBeUndefined();
    expect(refuseExtraArgs(['-chardev', 'file,id=c0,path=/etc/x'], 'allow')).toBeUndefined();
  });
});

describe('host files', () => {
  const file = (
    role: 'kernel' | 'initrd' | 'disk',
    path: string,
    found?: { real: string; regular?: boolean; mode?: number },
  ) => ({ role, path, ...(found ? { regular: true, mode: 0o644, ...found } : {}) });

  it("disks: only under incoming_disk_paths (README's /srv/shared), symlinks resolved", () => {
    expect(
      refuseHostFile(file('disk', '/srv/shared/web1.qcow2', { real: '/srv/shared/web1.qcow2' }), defaults),
    ).toBeUndefined();
    expect(refuseHostFile(file('disk', '/var/lib/libvirt/images/a.raw'), defaults)).toBeUndefined();
    expect(refuseHostFile(file('disk', '/etc/shadow'), defaults)).toMatch(
      /disk \/etc\/shadow is outside host.toml incoming_disk_paths \(\/srv\/, /,
    );
    expect(refuseHostFile(file('disk', '/dev/sda'), defaults)).toMatch(/outside host.toml incoming_disk_paths/);
    expect(refuseHostFile(file('disk', '/srvx/a.raw'), defaults)).toMatch(/outside/);
    expect(refuseHostFile(file('disk', '/srv/shared/link.raw', { real: '/etc/passwd' }), defaults)).toMatch(
      /disk \/srv\/shared\/link.raw leads to \/etc\/passwd, outside host.toml incoming_disk_paths/,
    );
    expect(refuseHostFile(file('disk', '/srv/../etc/shadow'), defaults)).toMatch(/not a plain absolute path/);
    expect(refuseHostFile(file('disk', '/etc/x'), { ...defaults, diskPaths: ['/'] })).toBeUndefined();
  });

  it('kernels without a list: world-readable regular files outside pseudo filesystems', () => {
    expect(
      refuseHostFile(file('kernel', '/srv/images/vmlinuz', { real: '/srv/images/vmlinuz' }), defaults),
    ).toBeUndefined();
    expect(
      refuseHostFile(
        file('kernel', '/opt/vmig/test/guest/build/guest.bin', {
          real: '/opt/vmig/test/guest/build/guest.bin',
          mode: 0o644,
        }),
        defaults,
      ),
    ).toBeUndefined();
    expect(refuseHostFile(file('kernel', '/etc/shadow', { real: '/etc/shadow', mode: 0o640 }), defaults)).toMatch(
      /kernel \/etc\/shadow is not world-readable; list its directory in host.toml incoming_kernel_paths/,
    );
    expect(
      refuseHostFile(file('initrd', '/root/.ssh/id_ed25519', { real: '/root/.ssh/id_ed25519', mode: 0o600 }), defaults),
    ).toMatch(/initrd .* is not world-readable/);
    expect(
      refuseHostFile(file('kernel', '/proc/1/cmdline', { real: '/proc/1/cmdline', mode: 0o444 }), defaults),
    ).toMatch(/pseudo filesystem/);
    expect(refuseHostFile(file('kernel', '/srv/k', { real: '/proc/self/environ', mode: 0o400 }), defaults)).toMatch(
      /pseudo filesystem/,
    );
    expect(
      refuseHostFile(file('kernel', '/srv/dev', { real: '/srv/dev', regular: false, mode: 0o666 }), defaults),
    ).toMatch(/not a regular file/);
    // Missing: left to the existence check, which names it.
    expect(refuseHostFile(file('kernel', '/srv/missing'), defaults)).toBeUndefined();
  });

  it('kernels with incoming_kernel_paths: only there', () => {
    const policy = { ...defaults, kernelPaths: ['/srv/images'] };
    expect(
      refuseHostFile(file('kernel', '/srv/images/vmlinuz', { real: '/srv/images/vmlinuz', mode: 0o600 }), policy),
    ).toBeUndefined();
    expect(refuseHostFile(file('kernel', '/srv/imagesX/vmlinuz'), policy)).toMatch(
      /kernel \/srv\/imagesX\/vmlinuz is outside host.toml incoming_kernel_paths \(\/srv\/images\)/,
    );
  });
});

describe('a definition of the same name stored on the destination', () => {
  const base = parseDomain({
    name: 'web1',
    uuid: '6f1c3f0e-5d0a-4f5e-9a43-2b7a3c1f9e10',
    memoryMiB: 256,
    kernel: '/srv/k',
  });

  it('none stored, or the same: accepted', () => {
    expect(judgeStoredDefinition(undefined, base, false)).toEqual({ ok: true });
    expect(judgeStoredDefinition(parseDomain({ ...base }), base, false)).toEqual({ ok: true });
  });

  it('different: refused naming the fields, accepted with --force-definition', () => {
    const stored = parseDomain({ ...base, memoryMiB: 512, extraArgs: ['-device', 'virtio-rng-pci'] });
    expect(definitionDifferences(stored, base)).toEqual(['extraArgs', 'memoryMiB']);
    expect(judgeStoredDefinition(stored, base, false)).toEqual({
      ok: false,
      always: false,
      reason:
        "is defined differently there (extraArgs, memoryMiB); pass --force-definition to run the source's definition",
    });
    expect(judgeStoredDefinition(stored, base, true)).toEqual({ ok: true });
  });

  it('another uuid: always refused, --force-definition or not', () => {
    const other = parseDomain({ ...base, uuid: '00000000-0000-4000-8000-000000000001' });
    for (const force of [false, true])
      expect(judgeStoredDefinition(other, base, force)).toMatchObject({
        ok: false,
        always: true,
        reason: expect.stringMatching(
          /another guest \(uuid 00000000-0000-4000-8000-000000000001, the source's is 6f1c3f0e/,
        ),
      });
  });
});
