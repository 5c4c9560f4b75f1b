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

export interface MigrationSettings {
  transport?: HostSettings['transport'];
  migrationAddress?: string;
  migrationPorts?: [number, number];
  bandwidthMiBs?: number;
  maxDowntimeMs?: number;
  autoConverge?: boolean;
  postcopyAfterPrecopy?: boolean;
  compressed?: boolean;
  downtimeSteps?: number;
  timeoutS?: number;
  timeoutAction?: HostSettings['timeout_action'];
  p2p?: boolean;
}

/** The defaults for a migration to `destination`: its host entry first, then the top-level keys. */
export function migrationSettings(config: VmigConfig | undefined, destination: string): MigrationSettings {
  const host = config?.hosts?.[destination] ?? {};
  const pick = <K extends keyof HostSettings & keyof VmigConfig>(key: K) => host[key] ?? config?.[key];
  const settings: MigrationSettings = {};
  const transport = pick('transport');
  const address = pick('migration_address');
  const ports = pick('migration_ports');
  const bandwidth = pick('bandwidth_mibs');
  const downtime = pick('max_downtime_ms');
  if (transport !== undefined) settings.transport = transport;
  if (address !== undefined) settings.migrationAddress = address;
  if (ports !== undefined) settings.migrationPorts = ports;
  if (bandwidth !== undefined) settings.bandwidthMiBs = bandwidth;
  if (downtime !== undefined) settings.maxDowntimeMs = downtime;
  const p2p = pick('p2p');
  if (p2p !== undefined) settings.p2p = p2p;
  const convergence = {
    autoConverge: pick('auto_converge'),
    postcopyAfterPrecopy: pick('postcopy_after_precopy'),
    compressed: pick('compressed'),
    downtimeSteps: pick('downtime_steps'),
    timeoutS: pick('timeout_s'),
    timeoutAction: pick('timeout_action'),
  };
  for (const [key, value] of Object.entries(convergence)) if (value !== undefined) Object.assign(settings, { [key]: value });
  return settings;
}
