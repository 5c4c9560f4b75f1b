// Settings that belong to a host rather than to a run: which address migrations use (a dedicated
// migration network), the port range, how much guest memory the host accepts, and what a source's
// definition may bring (incoming_*).
// File: $VMIG_HOST_CONFIG, default /etc/vmig/host.toml. Absent file = defaults.
import { readFile } from 'node:fs/promises';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { DEFAULT_DISK_PATHS, type IncomingPolicy } from '../domain/incoming-policy.js';
import { VmigError } from '../errors.js';
import { portRangeSchema } from '../options/config-schema.js';

export const DEFAULT_HOST_CONFIG = '/etc/vmig/host.toml';

const absoluteDir = z
  .string()
  .refine((dir) => dir.startsWith('/') && !dir.split('/').includes('..'), 'must be absolute directories without ".."');
const hostConfigSchema = z
  .object({
    /** The address this host listens on for incoming migrations and advertises to sources. */
    migration_address: z.string().min(1).optional(),
    migration_ports: portRangeSchema.optional(),
    /** The most guest RAM (MiB) this host runs at once; prepare refuses a guest that would exceed it. */
    guest_memory_limit_mib: z.number().int().min(1).optional(),
    /** Host RAM (MiB) kept free beyond the guests' when judging whether a guest fits. */
    memory_headroom_mib: z.number().int().min(0).default(64),
    /** What a source's definition may bring (domain/incoming-policy.ts): extra QEMU options... */
    incoming_extra_args: z.enum(['refuse', 'devices', 'allow']).default('devices'),
    /** ...the directories its kernels and initrds must lie in (absent: any world-readable regular file)... */
    incoming_kernel_paths: z.array(absoluteDir).optional(),
    /** ...and its disks. */
    incoming_disk_paths: z.array(absoluteDir).default(DEFAULT_DISK_PATHS),
    /** p2p: the ssh_config (-F) this host's `ssh` uses to reach destinations itself; default: the user's own. */
    p2p_ssh_config: z.string().min(1).optional(),
  })
  .strict();

export type HostConfig = z.output<typeof hostConfigSchema>;

export function incomingPolicy(config: HostConfig): IncomingPolicy {
  return {
    extraArgs: config.incoming_extra_args,
    ...(config.incoming_kernel_paths !== undefined ? { kernelPaths: config.incoming_kernel_paths } : {}),
    diskPaths: config.incoming_disk_paths,
  };
}

export async function loadHostConfig(env: NodeJS.ProcessEnv = process.env): Promise<HostConfig> {
  const path = env.VMIG_HOST_CONFIG || DEFAULT_HOST_CONFIG;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return hostConfigSchema.parse({});
    throw new VmigError('BAD_CONFIG', `cannot read host config ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    throw new VmigError('BAD_CONFIG', `host config ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  const result = hostConfigSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
    throw new VmigError(
      'BAD_CONFIG',
      `host config ${path}: ${issue.code === 'unrecognized_keys' ? `unknown key ${key}` : `${key}: ${issue.message}`}`,
    );
  }
  return result.data;
}
