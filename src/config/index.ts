// The one entry the CLI uses: load the config files and fold them into the global options.
// Loaded lazily by program.ts when a command runs, so `vmig --help` never loads zod or smol-toml.
import { configSources, loadConfig } from './load.js';
import type { VmigConfig } from './schema.js';

/** The global options this needs: --config and --connect (the CLI's GlobalOptions has them). */
interface ConfigFlags {
  config?: string;
  connect: string;
}

/** `connectFromFlagOrEnv`: -c or $VMIG_DEFAULT_CONNECT was given, so it beats the config's `connect`. */
export async function applyConfig<T extends ConfigFlags>(
  globals: T,
  connectFromFlagOrEnv: boolean,
): Promise<T & { settings: VmigConfig }> {
  const config = await loadConfig(configSources(globals.config));
  return {
    ...globals,
    ...(!connectFromFlagOrEnv && config.connect ? { connect: config.connect } : {}),
    settings: config,
  };
}

export type { VmigConfig, HostSettings } from './schema.js';
export { resolveHost } from './resolve.js';
