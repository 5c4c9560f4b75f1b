// Settings that belong to a host rather than to a run: which address migrations use (a dedicated
// migration network), the port range, and how much guest memory the host accepts.
// File: $VMIG_HOST_CONFIG, default /etc/vmig/host.toml. Absent file = defaults.
import { readFile } from 'node:fs/promises';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { VmigError } from '../errors.js';
import { portRangeSchema } from '../options/config-schema.js';

export const DEFAULT_HOST_CONFIG = '/etc/vmig/host.toml';

const hostConfigSchema = z
  .object({
    /** The address this host listens on for incoming migrations and advertises to sources. */
    migration_address: z.string().min(1).optional(),
    migration_ports: portRangeSchema.optional(),
    /** The most guest RAM (MiB) this host runs at once; prepare refuses a guest that would exceed it. */
    guest_memory_limit_mib: z.number().int().min(1).optional(),
    /** Host RAM (MiB) kept free beyond the guests' when judging whether a guest fits. */
    memory_headroom_mib: z.number().int().min(0).default(64),
  })
  .strict();

export type HostConfig = z.output<typeof hostConfigSchema>;

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
    throw new VmigError('BAD_CONFIG', `host config ${path}: ${issue.code === 'unrecognized_keys' ? `unknown key ${key}` : `${key}: ${issue.message}`}`);
  }
  return result.data;
}
