// The domain definition: a JSON file an operator writes, validated strictly so that a typo names its field.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { VmigError } from '../errors.js';

/** Names become file and socket names on every host: keep them short and shell-safe. */
export const DOMAIN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;

/** Disk target names become QEMU ids, NBD export names and file names. */
export const DISK_TARGET_PATTERN = /^[a-z][a-z0-9]{0,15}$/;

const absolutePath = z
  .string()
  .min(1)
  .refine((path) => path.startsWith('/'), 'must be an absolute path');

const diskSchema = z
  .object({
    path: absolutePath,
    format: z.enum(['raw', 'qcow2']).default('raw'),
    bus: z.enum(['virtio', 'ide']).default('virtio'),
    readonly: z.boolean().default(false),
    /** The guest-facing name (vda, vdb, hda…), by which migration options choose disks; assigned when absent. */
    target: z
      .string()
      .regex(DISK_TARGET_PATTERN, 'must be a disk name such as "vda" (lower-case letters and digits, at most 16)')
      .optional(),
    /**
     * true: on storage both hosts see at the same path (never copied). false: local to the host, copied by
     * --copy-storage-all. Absent: unmarked (shared, unless --copy-storage-all is given and no disk is marked).
     */
    shared: z.boolean().optional(),
  })
  .strict();

export const domainSchema = z
  .object({
    name: z
      .string()
      .regex(DOMAIN_NAME_PATTERN, 'must be 1-48 letters, digits, "_", "." or "-", starting with a letter or digit'),
    uuid: z.uuid().optional(),
    memoryMiB: z
      .number()
      .int()
      .min(16)
      .max(4 * 1024 * 1024),
    vcpus: z.number().int().min(1).max(512).default(1),
    machine: z
      .string()
      .regex(/^[a-z0-9._-]+$/, 'must be a QEMU machine type such as "pc" or "q35"')
      .default('pc'),
    accel: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
    cpu: z
      .string()
      .regex(/^[A-Za-z0-9_.,=+-]+$/)
      .optional(),
    kernel: absolutePath.optional(),
    initrd: absolutePath.optional(),
    append: z.string().max(4096).optional(),
    disks: z.array(diskSchema).max(16).default([]),
    /** The escape hatch: extra QEMU arguments, passed verbatim after vmig's own. */
    extraArgs: z.array(z.string()).max(256).default([]),
  })
  .strict()
  .refine((domain) => domain.kernel !== undefined || domain.disks.length > 0, {
    message: 'needs a kernel or at least one disk to boot from',
    path: ['kernel'],
  })
  .refine((domain) => domain.kernel !== undefined || (domain.initrd === undefined && domain.append === undefined), {
    message: 'initrd and append need a kernel',
    path: ['initrd'],
  })
  .refine(
    (domain) =>
      new Set(domain.disks.flatMap((disk) => (disk.target ? [disk.target] : []))).size ===
      domain.disks.filter((disk) => disk.target).length,
    {
      message: 'two disks have the same target',
      path: ['disks'],
    },
  );

export type DomainInput = z.input<typeof domainSchema>;
type ParsedDisk = z.output<typeof diskSchema>;
export type DiskDefinition = ParsedDisk & { target: string };
/** A validated definition; `uuid` and every disk's `target` are always set once stored. */
export type DomainDefinition = Omit<z.output<typeof domainSchema>, 'disks'> & { uuid: string; disks: DiskDefinition[] };

/** vda, vdb, … for virtio and hda, hdb, … for ide, skipping names already taken, as libvirt names them. */
export function assignTargets(disks: ParsedDisk[]): DiskDefinition[] {
  const taken = new Set(disks.flatMap((disk) => (disk.target ? [disk.target] : [])));
  return disks.map((disk) => {
    if (disk.target) return { ...disk, target: disk.target };
    const prefix = disk.bus === 'ide' ? 'hd' : 'vd';
    let index = 0;
    while (taken.has(targetName(prefix, index))) index++;
    const target = targetName(prefix, index);
    taken.add(target);
    return { ...disk, target };
  });
}

/** a..z, then aa, ab, … (the kernel's own naming). */
function targetName(prefix: string, index: number): string {
  let suffix = '';
  for (let n = index; n >= 0; n = Math.floor(n / 26) - 1) suffix = String.fromCharCode(97 + (n % 26)) + suffix;
  return prefix + suffix;
}

/** Validates untrusted input (a file the operator wrote, or a definition received from another host). */
export function parseDomain(input: unknown, source = 'domain definition'): DomainDefinition {
  const result = domainSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.join('.') : undefined;
    const what = issue.code === 'unrecognized_keys' ? `unknown field "${issue.keys.join('", "')}"` : issue.message;
    throw new VmigError(
      'BAD_DOMAIN_FILE',
      `${source}: ${field && issue.code !== 'unrecognized_keys' ? `field "${field}" ` : ''}${what}`,
    );
  }
  return { ...result.data, uuid: result.data.uuid ?? randomUUID(), disks: assignTargets(result.data.disks) };
}

/** Parses the text of a domain file. */
export function parseDomainFile(text: string, fileName: string): DomainDefinition {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new VmigError('BAD_DOMAIN_FILE', `${fileName}: not valid JSON (${(error as Error).message})`);
  }
  return parseDomain(json, fileName);
}

export function assertDomainName(name: string): void {
  if (!DOMAIN_NAME_PATTERN.test(name)) {
    throw new VmigError(
      'USAGE',
      `"${name}" is not a valid domain name (letters, digits, "_", "." and "-", at most 48)`,
    );
  }
}

/** The host files a definition needs; checked on a destination before anything starts. */
export function requiredPaths(domain: DomainDefinition): string[] {
  return [domain.kernel, domain.initrd, ...domain.disks.map((disk) => disk.path)].filter(
    (path): path is string => path !== undefined,
  );
}
