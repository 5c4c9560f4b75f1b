// The controller's config file (/etc/vmig/config.toml, ~/.config/vmig/config.toml, --config FILE): defaults
// for commands and host aliases. Strict: an unknown key is an error that names it, never silently ignored.
import { z } from 'zod';
import { VMIG_PATH_PATTERN, VMIG_PATH_RULE } from '../hosts/uri.js';

const port = z.number().int().min(1).max(65535);
const portRange = z.tuple([port, port]).refine(([from, to]) => from <= to, 'must be [from, to] with from <= to');
const transport = z.enum(['auto', 'tls', 'ssh', 'direct']);

/** Options that may be set for every migration or per destination host. */
const migrationDefaults = {
  /** The transport used when the command line names none. */
  transport: transport.optional(),
  /** The address a destination listens on and advertises to the source (a dedicated migration network). */
  migration_address: z.string().min(1).optional(),
  migration_ports: portRange.optional(),
  bandwidth_mibs: z.number().int().min(0).optional(),
  max_downtime_ms: z.number().int().min(1).optional(),
  // Convergence: what makes a busy guest's migration end (see `vmig migrate --help`).
  auto_converge: z.boolean().optional(),
  postcopy_after_precopy: z.boolean().optional(),
  compressed: z.boolean().optional(),
  downtime_steps: z.number().int().min(2).max(20).optional(),
  timeout_s: z.number().int().min(1).optional(),
  timeout_action: z.enum(['abort', 'suspend', 'postcopy']).optional(),
  /** ssh transport: the source host opens SSH to the destination itself (needs host-to-host trust). */
  p2p: z.boolean().optional(),
};

const hostSchema = z
  .object({
    /** What the alias stands for: local, ssh://[user@]host[:port] or a host from ~/.ssh/config. */
    uri: z.string().min(1).optional(),
    /** The path of vmig on that host, when it is not on the PATH. */
    vmig: z.string().regex(VMIG_PATH_PATTERN, `must be ${VMIG_PATH_RULE}`).optional(),
    ...migrationDefaults,
  })
  .strict();

export const configSchema = z
  .object({
    /** The default --connect host. */
    connect: z.string().min(1).optional(),
    ...migrationDefaults,
    hosts: z.record(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'host alias names use letters, digits, _ . -'), hostSchema).optional(),
  })
  .strict();

export type VmigConfig = z.output<typeof configSchema>;
export type HostSettings = z.output<typeof hostSchema>;
