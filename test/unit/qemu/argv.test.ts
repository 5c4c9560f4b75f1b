import { describe, expect, it } from 'vitest';
import { parseDomain } from '../../../src/domain/definition.js';
import { escapeOptionValue, qemuArgv, type LaunchPaths } from '../../../src/qemu/argv.js';

const paths: LaunchPaths = {
  qmpSocket: '/run/vmig/web1/qmp.sock',
  userQmpSocket: '/run/vmig/web1/user-qmp.sock',
  pidFile: '/run/vmig/web1/qemu.pid',
  serialLog: '/var/log/vmig/web1.serial',
};

const domain = parseDomain({
  name: 'web1',
  uuid: '0b9d3c1e-6f1a-4c4e-9a57-2f4a1b7c9d10',
  memoryMiB: 256,
  vcpus: 2,
  kernel: '/boot/guest.bin',
  disks: [{ path: '/srv/a,b.img', format: 'qcow2', readonly: true }],
  extraArgs: ['-device', 'virtio-rng-pci'],
});

/** The value following `flag` (first occurrence). */
const valueAfter = (argv: string[], flag: string): string | undefined => argv[argv.indexOf(flag) + 1];

describe('qemuArgv', () => {
  const argv = qemuArgv(domain, paths, { accel: 'tcg' });

  it('passes uuid, machine with accel, memory and vcpus', () => {
    expect(valueAfter(argv, '-uuid')).toBe('0b9d3c1e-6f1a-4c4e-9a57-2f4a1b7c9d10');
    expect(valueAfter(argv, '-machine')).toBe('pc,accel=tcg');
    expect(valueAfter(argv, '-m')).toBe('256M');
    expect(valueAfter(argv, '-smp')).toBe('2');
    expect(valueAfter(argv, '-kernel')).toBe('/boot/guest.bin');
  });

  it('opens two QMP sockets and daemonizes', () => {
    const qmp = argv.flatMap((arg, index) => (arg === '-qmp' ? [argv[index + 1]] : []));
    expect(qmp).toEqual([
      'unix:/run/vmig/web1/qmp.sock,server=on,wait=off',
      'unix:/run/vmig/web1/user-qmp.sock,server=on,wait=off',
    ]);
    expect(argv).toContain('-daemonize');
    expect(valueAfter(argv, '-pidfile')).toBe(paths.pidFile);
  });

  it('doubles commas in disk paths and sets cache=none', () => {
    expect(valueAfter(argv, '-drive')).toBe(
      'file=/srv/a,,b.img,format=qcow2,if=virtio,index=0,id=vda,node-name=vmig-vda,cache=none,readonly=on',
    );
    expect(escapeOptionValue('a,b,,c')).toBe('a,,b,,,,c');
  });

  it('adds -incoming defer and -S only for an incoming guest', () => {
    expect(argv).not.toContain('-incoming');
    expect(argv).not.toContain('-S');
    const incoming = qemuArgv(domain, paths, { accel: 'kvm', incoming: true });
    expect(valueAfter(incoming, '-incoming')).toBe('defer');
    expect(incoming.filter((arg) => arg === '-S')).toHaveLength(1);
    expect(valueAfter(incoming, '-machine')).toBe('pc,accel=kvm');
  });

  it('adds -S without -incoming for a paused start', () => {
    const paused = qemuArgv(domain, paths, { accel: 'tcg', paused: true });
    expect(paused).toContain('-S');
    expect(paused).not.toContain('-incoming');
  });

  it('puts extraArgs last, verbatim', () => {
    for (const options of [{ accel: 'tcg' as const }, { accel: 'tcg' as const, incoming: true }]) {
      expect(qemuArgv(domain, paths, options).slice(-2)).toEqual(['-device', 'virtio-rng-pci']);
    }
  });

  it('is deterministic for the same definition', () => {
    expect(qemuArgv(domain, paths, { accel: 'tcg' })).toEqual(argv);
  });
});
