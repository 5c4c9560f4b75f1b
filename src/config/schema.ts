// The controller's config file (/etc/vmig/config.toml, ~/.config/vmig/config.toml, --config FILE): defaults
// for commands and host aliases. Strict: an unknown key is an error that names it, never silently ignored.
// The migration keys (transport, bandwidth_mibs, timeout_s, ...) come from the options table (options/table.ts).
import { z } from 'zod';
import { VMIG_PATH_PATTERN, VMIG_PATH_RULE } from '../hosts/uri.js';
import { migrationConfigShape } from '../options/config-schema.js';

const hostSchema = z
  .object({
    /** What the alias stands for: local, ssh://[user@]host[:port] or a host from ~/.ssh/config. */
    uri: z.string().min(1).optional(),
    /** The path of vmig on that host, when it is not on the PATH. */
    vmig: z.string().regex(VMIG_PATH_PATTERN, `must be ${VMIG_PATH_RULE}`).optional(),
    ...migrationConfigShape,
  })
  .strict();

export const configSchema = z
  .object({
    /** The default --connect host. */
    connect: z.string().min(1).optional(),
    ...migrationConfigShape,
    hosts: z
      .record(
        z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'host alias names use letters, digits, _ . -'),
        hostSchema,
      )
      .optional(),
  })
  .strict();

export type VmigConfig = z.output<typeof configSchema>;
export type HostSettings = z.output<typeof hostSchema>;
