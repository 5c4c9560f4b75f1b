// direct:  qemu(SRC) ──TCP──▶ qemu(DST)   (QEMU's native stream: fast, neither authenticated nor encrypted)
import type { QmpClient } from '../qemu/qmp.js';
import { hostForUri, type Cookie, type Endpoint } from './cookie.js';
import { bindInRange } from './ports.js';

/** How QEMU starts listening: `migrate-incoming` for a new stream, `migrate-recover` to resume a paused post-copy. */
export type IncomingCommand = 'migrate-incoming' | 'migrate-recover';

/** Destination: opens QEMU's own listener on a free port of the range. */
export async function openDirectIncoming(
  qmp: QmpClient,
  listenHost: string,
  range: [number, number],
  command: IncomingCommand = 'migrate-incoming',
): Promise<Endpoint> {
  return bindInRange(listenHost, range, async (port) => {
    await qmp.execute(command, { uri: `tcp:${hostForUri(listenHost)}:${port}` });
    return { host: listenHost, port };
  });
}

/** Source: the URI QEMU migrates to. */
export function directOutgoingUri(cookie: Cookie): string {
  if (!cookie.endpoint) throw new Error('direct migration needs an endpoint in the cookie');
  return `tcp:${hostForUri(cookie.endpoint.host)}:${cookie.endpoint.port}`;
}
