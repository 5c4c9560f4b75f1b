// Destination: QEMU's NBD server exports each image being copied, writable, under the disk's target name.
//   direct: on TCP (a port of the migration range, unauthenticated like QEMU's own migration stream)
//   tls/ssh: on a unix socket in the instance's 0700 run directory, reached only through the proven streams
import { join } from 'node:path';
import { z } from 'zod';
import { diskNode } from '../qemu/argv.js';
import type { QmpClient } from '../qemu/qmp.js';
import type { Endpoint } from '../transports/cookie.js';
import { bindInRange } from '../transports/ports.js';

/** Where the source's NBD clients connect (QMP's SocketAddress). */
export const nbdAddressSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('unix'), path: z.string().min(1) }),
  z.object({ type: z.literal('inet'), host: z.string().min(1), port: z.string().regex(/^\d+$/) }),
]);
export type NbdAddress = z.infer<typeof nbdAddressSchema>;

export const nbdSocketPath = (instanceDir: string): string => join(instanceDir, 'nbd.sock');
const exportId = (target: string): string => `vmig-export-${target}`;

async function exportAll(qmp: QmpClient, targets: string[]): Promise<void> {
  for (const target of targets) {
    // Exporting activates the node (it is inactive while QEMU waits for its incoming state).
    await qmp.execute('block-export-add', {
      type: 'nbd',
      id: exportId(target),
      'node-name': diskNode(target),
      name: target,
      writable: true,
    });
  }
}

/** Starts the NBD server on a unix socket (tls, ssh, auto) and exports the disks. */
export async function exportOnUnix(qmp: QmpClient, instanceDir: string, targets: string[]): Promise<string> {
  const path = nbdSocketPath(instanceDir);
  await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path } } });
  await exportAll(qmp, targets);
  return path;
}

/** Starts the NBD server on TCP (direct) on a free port of the range and exports the disks. */
export async function exportOnTcp(
  qmp: QmpClient,
  targets: string[],
  listenHost: string,
  portRange: [number, number],
): Promise<Endpoint> {
  const endpoint = await bindInRange(listenHost, portRange, async (port) => {
    await qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: listenHost, port: String(port) } } });
    return { host: listenHost, port };
  });
  await exportAll(qmp, targets);
  return endpoint;
}

/** Stops the exports and the server; quiet when they are already gone. */
export async function stopExports(qmp: QmpClient, targets: string[]): Promise<void> {
  if (qmp.isClosed) return;
  for (const target of targets) await qmp.execute('block-export-del', { id: exportId(target) }).catch(() => undefined);
  await qmp.execute('nbd-server-stop').catch(() => undefined);
}
