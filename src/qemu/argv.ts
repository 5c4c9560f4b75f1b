// Domain definition → QEMU command line. Pure: the same definition gives the same argv on every host,
// which is what makes the destination's device model match the source's.
import type { DomainDefinition } from '../domain/definition.js';

export interface LaunchPaths {
  /** The agent's QMP socket (migrations and lifecycle). */
  qmpSocket: string;
  /** A second QMP socket for operator commands, so `qemu-monitor-command` never waits behind a migration. */
  userQmpSocket: string;
  pidFile: string;
  serialLog: string;
}

export interface LaunchOptions {
  accel: 'kvm' | 'tcg';
  /** Destination side: wait for `migrate-incoming` and stay paused until Finish. */
  incoming?: boolean;
  /** Start paused (also used for `start --paused`). */
  paused?: boolean;
}

export function qemuArgv(domain: DomainDefinition, paths: LaunchPaths, options: LaunchOptions): string[] {
  const argv = [
    '-name',
    `guest=${domain.name},debug-threads=on`,
    '-uuid',
    domain.uuid,
    '-machine',
    `${domain.machine},accel=${options.accel}`,
    '-m',
    `${domain.memoryMiB}M`,
    '-smp',
    String(domain.vcpus),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-qmp',
    `unix:${paths.qmpSocket},server=on,wait=off`,
    '-qmp',
    `unix:${paths.userQmpSocket},server=on,wait=off`,
    '-pidfile',
    paths.pidFile,
    '-serial',
    `file:${paths.serialLog}`,
    '-daemonize',
  ];
  if (domain.cpu) argv.push('-cpu', domain.cpu);
  if (domain.kernel) argv.push('-kernel', domain.kernel);
  if (domain.initrd) argv.push('-initrd', domain.initrd);
  if (domain.append) argv.push('-append', domain.append);
  domain.disks.forEach((disk, index) => {
    const options = [
      `file=${escapeOptionValue(disk.path)}`,
      `format=${disk.format}`,
      `if=${disk.bus}`,
      `index=${index}`,
      // Named, so that storage migration can address it: the BlockBackend by target, the format node by diskNode().
      `id=${disk.target}`,
      `node-name=${diskNode(disk.target)}`,
      // Shared storage must not be cached on the source, or the destination reads stale blocks after switch-over.
      'cache=none',
      ...(disk.readonly ? ['readonly=on'] : []),
    ];
    argv.push('-drive', options.join(','));
  });
  if (options.incoming) argv.push('-incoming', 'defer');
  if (options.incoming || options.paused) argv.push('-S');
  argv.push(...domain.extraArgs);
  return argv;
}

/** QEMU's option parser splits on commas; a literal comma is written twice. */
export const escapeOptionValue = (value: string): string => value.replaceAll(',', ',,');

/** The QEMU node name of a disk's format layer (what is mirrored on a source and exported on a destination). */
export const diskNode = (target: string): string => `vmig-${target}`;
