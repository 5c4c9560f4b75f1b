// What a destination accepts from a source's domain definition (host.toml's incoming_* keys). Pure: the
// caller resolves paths on the host and passes what it found. A compromised source must not reach the
// destination's host through the definition: extra QEMU options that open host files or devices, a kernel
// that is a host secret (read into the guest), a disk that is a host file (written by the guest).
import { isAbsolute, normalize } from 'node:path';
import type { DomainDefinition } from './definition.js';

export type ExtraArgsPolicy = 'refuse' | 'devices' | 'allow';

export interface IncomingPolicy {
  extraArgs: ExtraArgsPolicy;
  /** Directories kernels and initrds must lie in; undefined: any world-readable regular file outside /proc, /sys, /dev, /run. */
  kernelPaths?: string[];
  /** Directories disks must lie in. */
  diskPaths: string[];
}

export const DEFAULT_DISK_PATHS = ['/srv/', '/var/lib/vmig/images/', '/var/lib/libvirt/images/'];

/** A file named by the definition, as found on this host; `real` and `mode` are absent when it does not exist. */
export interface HostFile {
  role: 'kernel' | 'initrd' | 'disk';
  path: string;
  real?: string;
  regular?: boolean;
  mode?: number;
}

/** Pseudo filesystems: "files" there are the host's processes, devices and kernel state. */
const NEVER = ['/proc/', '/sys/', '/dev/', '/run/'];

/** -device drivers that attach host resources (devices, files, sockets) rather than emulate hardware. */
const HOST_DRIVERS =
  /^(vfio|vhost|usb-host|usb-redir|pci-assign|xen|loader|guest-loader|ivshmem|virtio-9p|vhost-user|nvdimm|pc-dimm|virtio-mem|virtio-pmem|tpm|spapr-rng|u2f-passthru|ccid-card-passthru|scsi-generic|scsi-block)/;
/** -device properties that name host files, devices, descriptors, or backends (which only vmig's own options may create). */
const HOST_KEYS = new Set([
  'romfile',
  'file',
  'filename',
  'host',
  'hostbus',
  'hostaddr',
  'hostport',
  'hostdevice',
  'sysfsdev',
  'vhostfd',
  'vhostfds',
  'fd',
  'fds',
  'path',
  'chardev',
  'drive',
  'netdev',
  'memdev',
  'fsdev',
  'backend',
  'x-igd-opregion',
]);

/** Why `args` is refused under `policy`, or undefined. */
export function refuseExtraArgs(args: readonly string[], policy: ExtraArgsPolicy): string | undefined {
  if (args.length === 0 || policy === 'allow') return undefined;
  if (policy === 'refuse') return `extraArgs are refused here (host.toml incoming_extra_args = "refuse")`;
  const why = (detail: string) =>
    `${detail} (host.toml incoming_extra_args = "devices" takes only -device options without host files or devices; set "allow" to trust every source)`;
  for (let index = 0; index < args.length; index += 2) {
    const option = args[index]!;
    const value = args[index + 1];
    if (option !== '-device' || value === undefined) return why(`extraArgs "${option}" is not a -device option`);
    if (value.startsWith('{')) return why(`extraArgs -device in JSON form is not accepted`);
    const [driver, ...properties] = value.replaceAll(',,', '\u0000').split(',');
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(driver ?? '') || HOST_DRIVERS.test(driver!))
      return why(`extraArgs -device ${driver} attaches a host resource`);
    for (const property of properties) {
      const [key = '', ...rest] = property.split('=');
      const propertyValue = rest.join('=').replaceAll('\u0000', ',');
      if (HOST_KEYS.has(key.toLowerCase()))
        return why(`extraArgs -device ${driver} sets ${key}=, which names a host resource`);
      if (propertyValue.includes('/')) return why(`extraArgs -device ${driver} has a path in ${key}=`);
    }
  }
  return undefined;
}

const withSlash = (dir: string) => (dir.endsWith('/') ? dir : `${dir}/`);
const under = (path: string, dirs: readonly string[]) => dirs.some((dir) => path.startsWith(withSlash(dir)));

/** Why one of the definition's host files is refused under `policy`, or undefined. */
export function refuseHostFile(file: HostFile, policy: IncomingPolicy): string | undefined {
  const what = `${file.role} ${file.path}`;
  // Lexically first: ".." or a relative path is refused before anything about the file is looked at.
  if (!isAbsolute(file.path) || normalize(file.path) !== file.path) return `${what} is not a plain absolute path`;
  const dirs = file.role === 'disk' ? policy.diskPaths : policy.kernelPaths;
  const key = file.role === 'disk' ? 'incoming_disk_paths' : 'incoming_kernel_paths';
  if (dirs !== undefined) {
    if (!under(file.path, dirs)) return `${what} is outside host.toml ${key} (${dirs.join(', ') || 'none'})`;
    if (file.real !== undefined && !under(file.real, dirs))
      return `${what} leads to ${file.real}, outside host.toml ${key}`;
    return undefined;
  }
  // Kernels and initrds without a list: only what every local user may read anyway.
  if (under(file.path, NEVER) || (file.real !== undefined && under(file.real, NEVER)))
    return `${what} is in a pseudo filesystem`;
  if (file.real === undefined) return undefined;
  if (!file.regular) return `${what} is not a regular file`;
  if (((file.mode ?? 0) & 0o004) === 0)
    return `${what} is not world-readable; list its directory in host.toml incoming_kernel_paths to accept it`;
  return undefined;
}

/** The fields in which a definition stored here differs from the one arriving (uuid aside). */
export function definitionDifferences(stored: DomainDefinition, incoming: DomainDefinition): string[] {
  const keys = new Set([...Object.keys(stored), ...Object.keys(incoming)]);
  keys.delete('uuid');
  const value = (definition: DomainDefinition, key: string) =>
    JSON.stringify((definition as Record<string, unknown>)[key]);
  return [...keys].filter((key) => value(stored, key) !== value(incoming, key)).sort();
}

export type StoredVerdict = { ok: true } | { ok: false; always: boolean; reason: string };

/** Whether a definition of the same name stored on the destination lets the incoming one in. */
export function judgeStoredDefinition(
  stored: DomainDefinition | undefined,
  incoming: DomainDefinition,
  force: boolean,
  host = 'there',
): StoredVerdict {
  if (!stored) return { ok: true };
  if (stored.uuid !== incoming.uuid) {
    return {
      ok: false,
      always: true,
      reason: `is defined ${host} as another guest (uuid ${stored.uuid}, the source's is ${incoming.uuid}); undefine it there first if it is not needed`,
    };
  }
  const differences = definitionDifferences(stored, incoming);
  if (differences.length === 0 || force) return { ok: true };
  return {
    ok: false,
    always: false,
    reason: `is defined differently ${host} (${differences.join(', ')}); pass --force-definition to run the source's definition`,
  };
}
