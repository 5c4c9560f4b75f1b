// `vmig domjobinfo NAME`: the migration job of a domain, read on its source host, whichever controller runs it.
import type { JobInfo } from '../../protocol/wire.js';
import { assertDomainName } from '../../domain/definition.js';
import { withHost } from '../hosts.js';
import { formatBytes, formatDuration } from '../../util/format.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

export function describeJob(info: JobInfo): string {
  if (!info.active || !info.job) return `${'Job type:'.padEnd(18)}None`;
  const { job, progress, parameters } = info;
  const lines: Array<[string, string | number | undefined]> = [
    ['Job type', 'Migration'],
    ['Job id', job.migrationId],
    ['Controller', job.controller],
    ['Started', job.startedAt],
    ['Phase', job.phase],
  ];
  if (progress && job.phase === 'performing') {
    lines.push(
      ['QEMU status', progress.status],
      ['Pass', Math.max(progress.pass, 1)],
      ['Time elapsed', formatDuration(progress.elapsedMs)],
      ['Data sent', formatBytes(progress.transferredBytes)],
      ['Left this pass', formatBytes(progress.remainingBytes)],
      ['Memory total', formatBytes(progress.totalBytes)],
      ['Throughput', `${formatBytes(progress.throughputBps)}/s`],
      ['Dirty rate', `${formatBytes(progress.dirtyRateBps)}/s`],
      [
        'Expected downtime',
        progress.expectedDowntimeMs === undefined ? undefined : `${progress.expectedDowntimeMs} ms`,
      ],
    );
  }
  for (const disk of info.disks ?? []) {
    lines.push([
      `Disk ${disk.target}`,
      `${formatBytes(disk.copiedBytes)} of ${formatBytes(disk.totalBytes)} copied${disk.ready ? ', mirroring each write' : ''}`,
    ]);
  }
  if (parameters) {
    const cap =
      parameters.maxBandwidthBps >= Number.MAX_SAFE_INTEGER / 2
        ? 'none'
        : `${formatBytes(parameters.maxBandwidthBps)}/s`;
    lines.push(['Bandwidth cap', cap], ['Max downtime', `${parameters.downtimeLimitMs} ms`]);
  }
  return lines
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${`${key}:`.padEnd(18)}${value}`)
    .join('\n');
}

const domjobinfo: Action = async (globals, [name]) => {
  assertDomainName(name!);
  const output = new Output(globals);
  const info = await withHost(globals, (host) => host.call('job.info', { name: name! }));
  output.result(globals.json ? JSON.stringify(info) : describeJob(info));
};
export default domjobinfo;
