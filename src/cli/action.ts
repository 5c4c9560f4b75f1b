// What every command receives: the global options (after the config files) and its own arguments and options.
// Commands import these types from here, never from program.ts, so that program.ts alone imports the commands.
import type { VmigConfig } from '../config/schema.js';

export interface GlobalOptions {
  connect: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
  debug: boolean;
  acceptNewHostKey: boolean;
  /** --config FILE (else $VMIG_CONFIG). */
  config?: string;
  /** The merged config files, attached by program.ts before a command runs. */
  settings?: VmigConfig;
}

/** A command's implementation, lazy-loaded by program.ts. */
export type Action = (globals: GlobalOptions, args: string[], options: Record<string, unknown>) => Promise<void>;
