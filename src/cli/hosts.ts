// Opening host connections for commands: one place that turns global options into connect options.
import type { HostConnection } from '../hosts/connection.js';
import { resolveHost } from '../config/resolve.js';
import type { GlobalOptions } from './action.js';

/** What to connect to for a host the operator named: a config alias becomes its uri (with its vmig path). */
export const hostUriOf = (globals: GlobalOptions, text: string): string => resolveHost(globals.settings, text).uri;

export async function openHost(globals: GlobalOptions, uri: string = globals.connect): Promise<HostConnection> {
  const { connectHost } = await import('../hosts/connect.js');
  return connectHost(hostUriOf(globals, uri), {
    acceptNewHostKey: globals.acceptNewHostKey,
    ...(globals.verbose
      ? { onAgentLog: (host: string, line: string) => process.stderr.write(`[${host}] ${line}\n`) }
      : {}),
  });
}

/** Runs `action` against the --connect host and always closes the connection. */
export async function withHost<T>(globals: GlobalOptions, action: (host: HostConnection) => Promise<T>): Promise<T> {
  const host = await openHost(globals);
  try {
    return await action(host);
  } finally {
    await host.close();
  }
}
