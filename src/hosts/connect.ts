// Opens a connection to a host's agent from its URI.
import type { HostConnection } from './connection.js';
import { parseHostUri } from './uri.js';

export interface ConnectOptions {
  acceptNewHostKey?: boolean;
  connectTimeoutMs?: number;
  onAgentLog?: (host: string, line: string) => void;
}

export async function connectHost(uriText: string, options: ConnectOptions = {}): Promise<HostConnection> {
  const uri = parseHostUri(uriText);
  if (uri.kind === 'local') {
    const { connectLocal } = await import('./local.js');
    return connectLocal(uri, options.onAgentLog && ((line) => options.onAgentLog!('local', line)));
  }
  const { connectSsh } = await import('./ssh.js');
  return connectSsh(uri, {
    ...(options.acceptNewHostKey ? { acceptNewHostKey: true } : {}),
    ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.onAgentLog ? { onAgentLog: (line: string) => options.onAgentLog!(uri.host, line) } : {}),
  });
}
