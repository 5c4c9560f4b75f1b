// `vmig migrate … --dry-run`: the plan, checked on both hosts, and nothing changed.
import { dryRunMigration, type DryRunPlan } from '../../controller/dry-run.js';
import type { TransportIntent } from '../../controller/transport-choice.js';
import type { HostConnection } from '../../hosts/connection.js';
import type { StorageOptions } from '../../storage/plan.js';
import { formatBytes } from '../../util/format.js';
import { hostForUri } from '../../transports/cookie.js';
import { openHost } from '../hosts.js';
import type { GlobalOptions } from '../action.js';
import { Output } from '../output.js';

export interface DryRunArgs {
  domain: string;
  dest: string;
  intent: TransportIntent;
  forceDefinition?: boolean;
  listenAddress?: string;
  portRange?: [number, number];
  storage?: StorageOptions;
}

export function describePlan(plan: DryRunPlan): string {
  const rows: Array<[string, string]> = [
    [
      'domain',
      `${plan.domain}: ${plan.memoryMiB} MiB, ${plan.accel}, ${plan.state} on ${plan.source}${plan.persistent ? ', persistent' : ''}`,
    ],
    ['begin', `${plan.source}: ${plan.domain} is ${plan.state} and no migration holds its lock`],
    [
      'prepare',
      `${plan.destination}: definition valid, its files present, ${plan.memoryMiB} MiB + ${plan.headroomMiB} MiB headroom fit, QEMU ${plan.destinationQemu} (${plan.accel})`,
    ],
    ...storageRows(plan),
    ...(plan.endpoint
      ? ([['endpoint', `${hostForUri(plan.endpoint.host)}:${plan.endpoint.port} free on ${plan.destination}`]] as Array<
          [string, string]
        >)
      : []),
    [
      'transport',
      `${plan.transport.transport} (${plan.transport.encrypted ? 'encrypted' : 'unencrypted'}): ${plan.transport.reason}`,
    ],
  ];
  return [
    `Dry run: ${plan.domain} from ${plan.source} to ${plan.destination} would go ahead; nothing was changed.`,
    ...rows.map(([key, value]) => `  ${key.padEnd(9)}  ${value}`),
  ].join('\n');
}

/** One row per copied disk (where it goes, created or reused) and one per destination file system (room). */
function storageRows(plan: DryRunPlan): Array<[string, string]> {
  if (!plan.storage) return [];
  return [
    ...plan.storage.disks.map((disk): [string, string] => [
      `disk ${disk.target}`,
      `${disk.sourcePath} → ${plan.destination}:${disk.destinationPath} (${disk.format}, ${formatBytes(disk.virtualSize)}, ${disk.sync === 'top' ? 'top layer' : 'full copy'}), ${disk.action === 'reuse' ? 'reusing the empty image there' : 'image to be created'}, needs ${formatBytes(disk.neededBytes)}`,
    ]),
    ...plan.storage.space.map((room): [string, string] => [
      'space',
      `${plan.destination}:${room.directory} has ${formatBytes(room.availableBytes)} free, the copies need ${formatBytes(room.neededBytes)}`,
    ]),
  ];
}

export async function runDryRun(globals: GlobalOptions, args: DryRunArgs): Promise<void> {
  const output = new Output(globals);
  let source: HostConnection | undefined;
  let destination: HostConnection | undefined;
  try {
    const opened = await Promise.allSettled([openHost(globals), openHost(globals, args.dest)]);
    source = opened[0].status === 'fulfilled' ? opened[0].value : undefined;
    destination = opened[1].status === 'fulfilled' ? opened[1].value : undefined;
    const failed = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed || !source || !destination) throw failed?.reason;
    const plan = await dryRunMigration({
      domain: args.domain,
      source,
      destination,
      transport: args.intent.request,
      transportReason: args.intent.reason,
      forceDefinition: args.forceDefinition === true,
      ...(args.storage ? { storage: args.storage } : {}),
      ...(args.listenAddress ? { listenAddress: args.listenAddress } : {}),
      ...(args.portRange ? { portRange: args.portRange } : {}),
    });
    if (globals.json)
      output.event({ type: 'plan', dryRun: true, ...plan, source: globals.connect, destination: args.dest });
    else output.result(describePlan(plan));
  } finally {
    await Promise.all([source?.close(), destination?.close()].map((closing) => closing?.catch(() => undefined)));
  }
}
