// Applies the config to a command: the default --connect host, host aliases and per-host settings.
// Pure functions of (config, what the operator typed), so they are unit-tested without files.
import type { HostSettings, VmigConfig } from './schema.js';

export interface ResolvedHost {
  /** What to connect to (the alias's uri, with its vmig path). */
  uri: string;
  /** The alias's settings, or {} for a host the config does not name. */
  settings: HostSettings;
}

function withVmigPath(uri: string, path: string): string {
  if (/[?&]vmig=/.test(uri)) return uri;
  if (uri === 'local') return `local?vmig=${path}`;
  if (uri.startsWith('ssh://')) return `${uri}${uri.includes('?') ? '&' : '?'}vmig=${path}`;
  // A bare host or user@host: the ssh:// form is the one that carries parameters.
  const at = uri.lastIndexOf('@');
  const host = uri.slice(at + 1);
  const bracketed = host.includes(':') && !host.startsWith('[') ? `${uri.slice(0, at + 1)}[${host}]` : uri;
  return `ssh://${bracketed}?vmig=${path}`;
}

export function resolveHost(config: VmigConfig | undefined, text: string): ResolvedHost {
  const settings = config?.hosts?.[text];
  if (!settings) return { uri: text, settings: {} };
  const uri = settings.uri ?? text;
  return { uri: settings.vmig ? withVmigPath(uri, settings.vmig) : uri, settings };
}
