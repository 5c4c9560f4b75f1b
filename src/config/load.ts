// Finds, reads and merges the controller's config files: system < user < --config/VMIG_CONFIG (< flags, applied by
// the caller). A missing system or user file is fine; a missing file that was asked for by name is an error.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { VmigError } from '../errors.js';
import { configSchema, type VmigConfig } from './schema.js';

export const SYSTEM_CONFIG = '/etc/vmig/config.toml';

export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(base, 'vmig', 'config.toml');
}

export interface ConfigSources {
  system: string;
  user: string;
  /** --config FILE, else $VMIG_CONFIG. */
  explicit: string | undefined;
}

export function configSources(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): ConfigSources {
  return { system: SYSTEM_CONFIG, user: userConfigPath(env), explicit: explicit || env.VMIG_CONFIG || undefined };
}

/** Parses and validates one file's text; errors name the file and the offending key. */
export function parseConfig(text: string, path: string): VmigConfig {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    throw new VmigError('BAD_CONFIG', `config ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => (where ? `${where}.${key}` : key));
    throw new VmigError('BAD_CONFIG', `config ${path}: unknown key ${keys.join(', ')}`);
  }
  throw new VmigError('BAD_CONFIG', `config ${path}: ${where || '(top level)'}: ${issue.message}`);
}

async function readConfig(path: string, required: boolean): Promise<VmigConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!required && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    throw new VmigError(
      'BAD_CONFIG',
      `cannot read config ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
  return parseConfig(text, path);
}

/** Later layers win key by key; host aliases merge per alias. */
export function mergeConfigs(layers: Array<VmigConfig | undefined>): VmigConfig {
  const merged: VmigConfig = {};
  for (const layer of layers) {
    if (!layer) continue;
    const { hosts, ...rest } = layer;
    Object.assign(merged, rest);
    if (hosts) {
      merged.hosts ??= {};
      for (const [alias, settings] of Object.entries(hosts))
        merged.hosts[alias] = { ...merged.hosts[alias], ...settings };
    }
  }
  return merged;
}

export async function loadConfig(sources: ConfigSources): Promise<VmigConfig> {
  const layers = await Promise.all([
    readConfig(sources.system, false),
    readConfig(sources.user, false),
    sources.explicit ? readConfig(sources.explicit, true) : undefined,
  ]);
  return mergeConfigs(layers);
}
