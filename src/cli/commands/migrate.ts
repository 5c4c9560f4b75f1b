import { migrate, type MigrateResult } from '../../controller/migrate.js';
import { assertDomainName } from '../../domain/definition.js';
import { VmigError, isVmigError } from '../../errors.js';
import type { HostConnection } from '../../hosts/connection.js';
import { parseHostUri } from '../../hosts/uri.js';
import { openHost } from '../hosts.js';
import { Output, formatBytes, formatDuration } from '../output.js';
import { createProgressRenderer } from '../progress.js';
import type { Action } from '../program.js';

export function parsePositiveInt(value: unknown, option: string, allowZero = false): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < (allowZero ? 0 : 1)) throw new VmigError('USAGE', `${option} takes a ${allowZero ? 'non-negative' : 'positive'} whole number, not "${String(value)}"`);
  return number;
}

export function parsePortRange(value: string): [number, number] {
  const match = /^(\d+)-(\d+)$/.exec(value);
  const range = match ? ([Number(match[1]), Number(match[2])] as [number, number]) : undefined;
  if (!range || range[0] < 1 || range[1] > 65535 || range[0] > range[1]) throw new VmigError('USAGE', `--port-range takes FROM-TO within 1-65535, not "${value}"`);
  return range;
}

const migrateCommand: Action = async (globals, [name, dest], options) => {
  assertDomainName(name!);
  // Checked before connecting anywhere: bad input changes nothing.
  parseHostUri(globals.connect);
  parseHostUri(dest!);
  const bandwidthMiBs = parsePositiveInt(options.bandwidth ?? 0, '--bandwidth', true);
  const maxDowntimeMs = options.maxDowntime === undefined ? undefined : parsePositiveInt(options.maxDowntime, '--max-downtime');
  const portRange = options.portRange === undefined ? undefined : parsePortRange(String(options.portRange));
  if (!options.direct) {
    throw new VmigError('USAGE', 'this vmig supports only --direct (plain QEMU-to-QEMU TCP) so far; pass --direct to accept an unencrypted stream');
  }
  const output = new Output(globals);
  const reporter = await createProgressRenderer(output, globals.json);
  const started = Date.now();
  if (globals.json) output.event({ type: 'start', time: new Date().toISOString(), domain: name, source: globals.connect, destination: dest, transport: 'direct' });
  const warning = 'the direct transport sends guest memory unencrypted and unauthenticated over the network';
  reporter.warning(warning);

  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      output.info(`\n${signal}: cancelling the migration; ${name} stays on the source (press Ctrl-C again to see what is pending)`);
      abort.abort();
    } else {
      output.info(`still waiting for the hosts to confirm that ${name} runs on exactly one of them`);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let source: HostConnection | undefined;
  let destination: HostConnection | undefined;
  try {
    reporter.phase('begin', `connecting to ${globals.connect} and ${dest}`);
    const opened = await Promise.allSettled([openHost(globals), openHost(globals, dest)]);
    source = opened[0].status === 'fulfilled' ? opened[0].value : undefined;
    destination = opened[1].status === 'fulfilled' ? opened[1].value : undefined;
    const failed = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed || !source || !destination) throw failed?.reason;
    const result = await migrate(
      {
        domain: name!,
        source,
        destination,
        transport: 'direct',
        persistent: options.persistent === true,
        undefineSource: options.undefinesource === true,
        suspend: options.suspend === true,
        bandwidthMiBs,
        ...(maxDowntimeMs ? { maxDowntimeMs } : {}),
        ...(options.listenAddress ? { listenAddress: String(options.listenAddress) } : {}),
        ...(portRange ? { portRange } : {}),
        signal: abort.signal,
      },
      reporter,
    );
    reporter.stop();
    report(output, globals.json, result, globals.connect, dest!);
  } catch (error) {
    reporter.stop();
    if (globals.json) {
      const code = isVmigError(error) ? error.code : 'INTERNAL';
      output.event({
        type: 'result',
        time: new Date().toISOString(),
        status: isVmigError(error) && error.code === 'NEEDS_RECOVERY' ? 'needs-recovery' : 'failed',
        domain: name,
        source: globals.connect,
        destination: dest,
        transport: 'direct',
        encrypted: false,
        totalTimeMs: Date.now() - started,
        error: { code, message: (error as Error).message },
      });
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([source?.close(), destination?.close()].map((closing) => closing?.catch(() => undefined)));
  }
};

function report(output: Output, json: boolean, result: MigrateResult, source: string, destination: string): void {
  const { outcome } = result;
  if (json) {
    output.event({
      type: 'result',
      time: new Date().toISOString(),
      status: 'completed',
      migrationId: result.migrationId,
      domain: result.domain,
      source,
      destination,
      transport: result.transport,
      encrypted: result.encrypted,
      state: result.state,
      totalTimeMs: result.totalTimeMs,
      qemuTotalTimeMs: outcome.totalTimeMs,
      downtimeMs: outcome.downtimeMs,
      transferredBytes: outcome.transferredBytes,
      passes: outcome.passes,
    });
    return;
  }
  output.result(
    `Migrated ${result.domain} to ${destination} over ${result.transport}${result.encrypted ? '' : ' (unencrypted)'}: ${formatDuration(result.totalTimeMs)} total, downtime ${outcome.downtimeMs} ms, ${formatBytes(outcome.transferredBytes)} in ${outcome.passes} passes (${formatBytes(outcome.throughputBps)}/s)${result.state === 'paused' ? ', left paused' : ''}`,
  );
}

export default migrateCommand;
