// Destination: exposes the NBD exports of a storage migration to the source over the migration's transport.
//   direct   : qemu(SRC) NBD client ──TCP─────────────────────────────────────────────────▶ qemu(DST) NBD server
//   tls / ssh: qemu(SRC) NBD client ─unix─ stream disk-<target> of the migration's stream set (proves the cookie)
//              ─▶ agent(DST) ─unix─ nbd.sock   (the streams are named to openIncoming; see transports/streams.ts)
import { z } from 'zod';
import type { QmpClient } from '../qemu/qmp.js';
import type { TransportRequest } from '../transports/cookie.js';
import { exportOnTcp, exportOnUnix, nbdAddressSchema } from './exports.js';
import type { DiskCopy } from './plan.js';

/** What Prepare tells the controller (and the controller the source) about where the disks are exported. */
export const storageExposureSchema = z.object({
  /** direct: QEMU's NBD server on TCP. Tunnelled transports carry the disks as streams of the cookie's set. */
  nbd: nbdAddressSchema.optional(),
});
export type StorageExposure = z.infer<typeof storageExposureSchema>;

export async function exportDisks(options: {
  qmp: QmpClient;
  copies: DiskCopy[];
  transport: TransportRequest;
  instanceDir: string;
  listenHost: string;
  portRange: [number, number];
}): Promise<{ exposed: StorageExposure }> {
  const targets = options.copies.map((copy) => copy.target);
  if (options.transport === 'direct') {
    const endpoint = await exportOnTcp(options.qmp, targets, options.listenHost, options.portRange);
    return { exposed: { nbd: { type: 'inet', host: endpoint.host, port: String(endpoint.port) } } };
  }
  await exportOnUnix(options.qmp, options.instanceDir, targets);
  return { exposed: {} };
}
