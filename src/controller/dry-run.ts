// `vmig migrate --dry-run`: Begin's and Prepare's checks on the real hosts, a real listener on the
// destination's migration address for the source to probe (what `auto` would pick, and why), then nothing
// left behind: no lock, no journal entry, no QEMU on either host.
import { VmigError } from '../errors.js';
import type { HostConnection } from '../hosts/connection.js';
import type { Endpoint, TransportRequest } from '../transports/cookie.js';
import type { ProbeResult } from '../transports/probe.js';
import { planStorage, type DiskCopy, type DryStorage, type StorageOptions } from '../storage/plan.js';
import { chooseTransport, type TransportDecision } from './transport-choice.js';

export interface DryRunRequest {
  domain: string;
  source: HostConnection;
  destination: HostConnection;
  transport: TransportRequest;
  transportReason: string;
  forceDefinition?: boolean;
  listenAddress?: string;
  portRange?: [number, number];
  /** --copy-storage-all/-inc and company: planned as a real run would, checked on the destination, nothing created. */
  storage?: StorageOptions;
}

/** A disk the run would copy, and whether the destination would create its image or reuse an empty one there. */
export type DryRunDisk = Pick<
  DiskCopy,
  'target' | 'sourcePath' | 'destinationPath' | 'format' | 'virtualSize' | 'sync' | 'neededBytes'
> & { action: 'create' | 'reuse' };

export interface DryRunPlan {
  domain: string;
  source: string;
  destination: string;
  state: string;
  memoryMiB: number;
  accel: 'kvm' | 'tcg';
  persistent: boolean;
  destinationQemu: string;
  headroomMiB: number;
  /** Where the destination would listen (tls, direct); absent for the ssh transport, which needs no port. */
  endpoint?: Endpoint;
  transport: TransportDecision;
  /** Storage migration: the disks to copy and the destination's room for them. */
  storage?: { disks: DryRunDisk[]; space: DryStorage['space'] };
}

export async function dryRunMigration(request: DryRunRequest): Promise<DryRunPlan> {
  const { source, destination, domain } = request;
  if (source.hello.hostId === destination.hello.hostId)
    throw new VmigError('SAME_HOST', `the destination ${destination.label} is the source host itself`);
  const begun = await source.call('migrate.dry-begin', { name: domain });
  // The same plan a real run makes after Begin (disks to copy, --migrate-disks names, --storage-map).
  const copies = planStorage(domain, begun.disks ?? [], request.storage ?? {});
  const prepared = await destination.call('migrate.dry-prepare', {
    definition: begun.definition,
    accel: begun.accel,
    forceDefinition: request.forceDefinition === true,
    ...(copies.length > 0 ? { storage: { copies } } : {}),
  });
  const intent = { request: request.transport, reason: request.transportReason };
  let endpoint: Endpoint | undefined;
  let probe: ProbeResult | undefined;
  if (request.transport !== 'ssh') {
    const listened = await destination.call('host.listen', {
      ...(request.listenAddress ? { listenAddress: request.listenAddress } : {}),
      ...(request.portRange ? { portRange: request.portRange } : {}),
    });
    endpoint = listened.endpoint;
    try {
      probe = await source.call('host.probe-tcp', { endpoint });
    } finally {
      await destination.call('host.unlisten', { id: listened.id }).catch(() => undefined);
    }
    // An explicit tls or direct that the source cannot reach would fail at Perform: say so now.
    if (request.transport !== 'auto' && !probe.reachable) {
      throw new VmigError(
        'HOST_UNSUITABLE',
        `${source.label} cannot reach ${destination.label}'s migration port (${probe.reason}), which --transport ${request.transport} needs; use --transport ssh or open the port`,
      );
    }
  }
  return {
    domain,
    source: source.label,
    destination: destination.label,
    state: begun.state,
    memoryMiB: prepared.memoryMiB,
    accel: prepared.accel,
    persistent: begun.persistent,
    destinationQemu: prepared.qemu,
    headroomMiB: prepared.headroomMiB,
    ...(endpoint ? { endpoint } : {}),
    transport: chooseTransport(intent, endpoint, probe),
    ...(prepared.storage ? { storage: storagePlan(copies, prepared.storage) } : {}),
  };
}

function storagePlan(copies: DiskCopy[], found: DryStorage): NonNullable<DryRunPlan['storage']> {
  return {
    disks: copies.map((copy) => ({
      target: copy.target,
      sourcePath: copy.sourcePath,
      destinationPath: copy.destinationPath,
      format: copy.format,
      virtualSize: copy.virtualSize,
      sync: copy.sync,
      neededBytes: copy.neededBytes,
      action: found.images.find((image) => image.target === copy.target)?.action ?? 'create',
    })),
    space: found.space,
  };
}
