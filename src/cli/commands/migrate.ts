import { migrate, type MigrateResult, type MigrationStep } from '../../controller/migrate.js';
import { parseMigrateUri, requestedTransport } from '../../controller/transport-choice.js';
import { assertDomainName } from '../../domain/definition.js';
import { VmigError, isVmigError } from '../../errors.js';
import type { HostConnection } from '../../hosts/connection.js';
import { parseHostUri } from '../../hosts/uri.js';
import { migrationSettings, type MigrationSettings } from '../../config/resolve.js';
import { postcopyEnabled, type ConvergenceOptions, type TimeoutAction } from '../../qemu/convergence.js';
import { DISK_TARGET_PATTERN } from '../../domain/definition.js';
import { checkStorageFlags, copiesStorage, parseStorageMap, type StorageOptions } from '../../storage/plan.js';
import { hostUriOf, openHost } from '../hosts.js';
import type { ResultEvent, StartEvent } from '../json-events.js';
import { Output, formatBytes, formatDuration, type GlobalOptions } from '../output.js';
import { createProgressRenderer, type PhaseTiming } from '../progress.js';
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

/** --auto-converge, --postcopy*, --parallel, --compressed, --timeout*, --downtime-steps: checked before connecting anywhere. */
export function convergenceOptions(options: Record<string, unknown>, maxDowntimeMs?: number): ConvergenceOptions {
  const percent = (value: unknown, option: string, max: number) => {
    const pct = parsePositiveInt(value, option);
    if (pct > max) throw new VmigError('USAGE', `${option} takes a percentage from 1 to ${max}, not "${String(value)}"`);
    return pct;
  };
  const autoConverge = options.autoConverge === true;
  if (!autoConverge && (options.autoConvergeInitial !== undefined || options.autoConvergeIncrement !== undefined)) {
    throw new VmigError('USAGE', '--auto-converge-initial and --auto-converge-increment need --auto-converge');
  }
  const timeoutAction = options.timeoutAction === undefined ? undefined : (String(options.timeoutAction) as TimeoutAction);
  if (timeoutAction !== undefined && options.timeout === undefined) throw new VmigError('USAGE', '--timeout-action needs --timeout SECONDS');
  const parallel = options.parallel === undefined ? undefined : parsePositiveInt(options.parallel, '--parallel');
  if (parallel !== undefined && parallel > 64) throw new VmigError('USAGE', `--parallel takes 1 to 64 connections, not ${parallel}`);
  const downtimeSteps = options.downtimeSteps === undefined ? undefined : parsePositiveInt(options.downtimeSteps, '--downtime-steps');
  if (downtimeSteps !== undefined && (downtimeSteps < 2 || downtimeSteps > 20)) throw new VmigError('USAGE', `--downtime-steps takes 2 to 20 steps, not ${downtimeSteps}`);
  if (downtimeSteps !== undefined && maxDowntimeMs === undefined) throw new VmigError('USAGE', '--downtime-steps needs --max-downtime MS, the last step');
  return {
    ...(autoConverge ? { autoConverge } : {}),
    ...(options.autoConvergeInitial !== undefined ? { autoConvergeInitialPct: percent(options.autoConvergeInitial, '--auto-converge-initial', 99) } : {}),
    ...(options.autoConvergeIncrement !== undefined ? { autoConvergeIncrementPct: percent(options.autoConvergeIncrement, '--auto-converge-increment', 100) } : {}),
    ...(options.postcopy === true ? { postcopy: true } : {}),
    ...(options.postcopyAfterPrecopy === true ? { postcopyAfterPrecopy: true } : {}),
    ...(parallel !== undefined && parallel > 1 ? { parallel } : {}),
    ...(options.compressed === true ? { compressed: true } : {}),
    ...(downtimeSteps !== undefined ? { downtimeSteps } : {}),
    ...(options.timeout !== undefined ? { timeoutMs: parsePositiveInt(options.timeout, '--timeout') * 1000, timeoutAction: timeoutAction ?? 'abort' } : {}),
  };
}

/**
 * The convergence options of one migration: flags first, then the config file (the destination's entry, then
 * the top level). The config's timeout action applies to a timeout from either place.
 */
export function migrationConvergence(options: Record<string, unknown>, defaults: MigrationSettings, maxDowntimeMs: number | undefined): ConvergenceOptions {
  const timeout = options.timeout ?? defaults.timeoutS;
  return convergenceOptions(
    {
      ...options,
      autoConverge: options.autoConverge === true || defaults.autoConverge === true,
      postcopyAfterPrecopy: options.postcopyAfterPrecopy === true || defaults.postcopyAfterPrecopy === true,
      compressed: options.compressed === true || defaults.compressed === true,
      downtimeSteps: options.downtimeSteps ?? defaults.downtimeSteps,
      timeout,
      timeoutAction: options.timeoutAction ?? (timeout !== undefined ? defaults.timeoutAction : undefined),
    },
    maxDowntimeMs,
  );
}

/** --copy-storage-*, --migrate-disks, --storage-map: checked before connecting anywhere (the disks are checked after Begin). */
export function storageOptions(options: Record<string, unknown>): StorageOptions {
  const migrateDisks = options.migrateDisks === undefined ? undefined : String(options.migrateDisks).split(',').map((target) => target.trim());
  for (const target of migrateDisks ?? []) {
    if (!DISK_TARGET_PATTERN.test(target)) throw new VmigError('USAGE', `--migrate-disks takes disk targets such as vda,vdb, not "${target}"`);
  }
  const storageMap = parseStorageMap(Array.isArray(options.storageMap) ? options.storageMap.map(String) : []);
  const storage: StorageOptions = {
    ...(options.copyStorageAll === true ? { copyAll: true } : {}),
    ...(options.copyStorageInc === true ? { copyInc: true } : {}),
    ...(migrateDisks ? { migrateDisks } : {}),
    ...(options.copyStorageSynchronousWrites === true ? { synchronousWrites: true } : {}),
    ...(storageMap.length > 0 ? { storageMap } : {}),
  };
  checkStorageFlags(storage);
  return storage;
}

const migrateCommand: Action = async (globals, [name, dest], options) => {
  assertDomainName(name!);
  // Checked before connecting anywhere: bad input changes nothing.
  parseHostUri(hostUriOf(globals, globals.connect));
  parseHostUri(hostUriOf(globals, dest!));
  // Flags win over the config file's entry for the destination, which wins over its top-level defaults.
  const defaults = migrationSettings(globals.settings, dest!);
  const bandwidthMiBs = parsePositiveInt(options.bandwidth ?? defaults.bandwidthMiBs ?? 0, '--bandwidth', true);
  const maxDowntimeMs = options.maxDowntime === undefined ? defaults.maxDowntimeMs : parsePositiveInt(options.maxDowntime, '--max-downtime');
  const stallTimeoutMs = parsePositiveInt(options.stallTimeout ?? 30, '--stall-timeout') * 1000;
  const migrateUri = options.migrateUri === undefined ? undefined : parseMigrateUri(String(options.migrateUri));
  if (migrateUri && options.listenAddress !== undefined) throw new VmigError('USAGE', '--migrate-uri and --listen-address both name the address: give one');
  if (migrateUri?.port !== undefined && options.portRange !== undefined) throw new VmigError('USAGE', '--migrate-uri with a port and --port-range both name the port: give one');
  const portRange = migrateUri?.port !== undefined ? ([migrateUri.port, migrateUri.port] as [number, number]) : options.portRange === undefined ? defaults.migrationPorts : parsePortRange(String(options.portRange));
  const listenAddress = migrateUri?.host ?? (options.listenAddress === undefined ? defaults.migrationAddress : String(options.listenAddress));
  // --p2p is the ssh transport run from the source host; alone it picks ssh, with tls or direct it is a contradiction.
  const p2pFlag = options.p2p === true;
  if (p2pFlag && (options.direct === true || (options.transport !== undefined && options.transport !== 'ssh'))) {
    throw new VmigError('USAGE', `--p2p is the ssh transport run from the source host: it contradicts ${options.direct === true ? '--direct' : `--transport ${String(options.transport)}`}`);
  }
  const intent = requestedTransport({
    ...(options.transport !== undefined ? { transport: String(options.transport) } : p2pFlag ? { transport: 'ssh' } : {}),
    direct: options.direct === true,
    tunnelled: options.tunnelled === true,
    ...(defaults.transport !== undefined ? { configured: defaults.transport } : {}),
  });
  const convergence = migrationConvergence(options, defaults, maxDowntimeMs);
  const storage = storageOptions(options);
  if (copiesStorage(storage) && postcopyEnabled(convergence)) {
    throw new VmigError('USAGE', 'post-copy cannot be combined with --copy-storage-all/--copy-storage-inc: the disks must be complete before the guest may run on the destination');
  }
  if (options.dryRun === true && copiesStorage(storage)) {
    // The dry run checks that the destination has the guest's files; copied disks are created there instead.
    throw new VmigError('USAGE', '--dry-run does not cover --copy-storage-all/--copy-storage-inc yet: run it without them to check the hosts');
  }
  if (options.dryRun === true) {
    const { runDryRun } = await import('./migrate-dry-run.js');
    await runDryRun(globals, { domain: name!, dest: dest!, intent, forceDefinition: options.forceDefinition === true, ...(listenAddress ? { listenAddress } : {}), ...(portRange ? { portRange } : {}) });
    return;
  }
  const output = new Output(globals);
  const renderer = await createProgressRenderer(output, globals.json);
  let currentPhase = 'begin';
  const reporter = { ...renderer, phase: (phase: MigrationStep, detail: string) => {
    currentPhase = phase;
    renderer.phase(phase, detail);
  } };
  const started = Date.now();
  if (globals.json) output.event({ type: 'start', time: new Date().toISOString(), domain: name!, source: globals.connect, destination: dest!, transport: intent.request } satisfies StartEvent);
  if (intent.request === 'direct') reporter.warning(`the direct transport sends guest memory${copiesStorage(storage) ? ' and disks' : ''} unencrypted and unauthenticated over the network`);

  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    const switchingOver = currentPhase === 'finish' || currentPhase === 'confirm';
    if (interrupts === 1 && !switchingOver) {
      output.info(`\n${signal}: cancelling the migration; ${name} stays on the source (press Ctrl-C again to see what is pending)`);
      abort.abort();
    } else if (switchingOver) {
      output.info(`\n${signal}: ${name} is switching over to ${dest}; that cannot be interrupted safely, waiting for ${currentPhase} to end`);
    } else {
      output.info(`still waiting for ${currentPhase}: the hosts must confirm that ${name} runs on exactly one of them`);
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
        transport: intent.request,
        transportReason: intent.reason,
        persistent: options.persistent === true,
        undefineSource: options.undefinesource === true,
        forceDefinition: options.forceDefinition === true,
        suspend: options.suspend === true,
        bandwidthMiBs,
        ...(maxDowntimeMs ? { maxDowntimeMs } : {}),
        stallTimeoutMs,
        convergence,
        ...(listenAddress ? { listenAddress } : {}),
        ...(portRange ? { portRange } : {}),
        // The config's p2p applies whenever ssh carries the stream (auto included); the flag forces it.
        ...(p2pFlag || defaults.p2p === true ? { p2p: true } : {}),
        signal: abort.signal,
        ...(copiesStorage(storage) ? { storage } : {}),
      },
      reporter,
    );
    reporter.stop();
    report(output, globals, result, globals.connect, dest!, renderer.timings());
  } catch (error) {
    reporter.stop();
    if (globals.json) {
      const code = isVmigError(error) ? error.code : 'INTERNAL';
      output.event({
        type: 'result',
        time: new Date().toISOString(),
        status: isVmigError(error) && error.code === 'NEEDS_RECOVERY' ? 'needs-recovery' : 'failed',
        domain: name!,
        source: globals.connect,
        destination: dest!,
        transport: intent.request,
        encrypted: intent.request !== 'direct',
        totalTimeMs: Date.now() - started,
        error: { code, message: (error as Error).message },
        ...(globals.verbose ? { phaseTimingsMs: Object.fromEntries(renderer.timings().map(({ phase, ms }) => [phase, ms])) } : {}),
      } satisfies ResultEvent);
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([source?.close(), destination?.close()].map((closing) => closing?.catch(() => undefined)));
  }
};

function report(output: Output, globals: GlobalOptions, result: MigrateResult, source: string, destination: string, timings: PhaseTiming[]): void {
  const { outcome } = result;
  const phaseTimingsMs = Object.fromEntries(timings.map(({ phase, ms }) => [phase, ms]));
  if (globals.json) {
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
      // QMP event times (ms since the epoch) of the guest's pause on the source and its resume on the destination.
      sourceStopAt: outcome.sourceStopAt,
      destinationResumeAt: result.destinationResumeAt,
      ...(outcome.disks ? { disks: outcome.disks, diskCopyMs: outcome.diskCopyMs } : {}),
      ...(globals.verbose ? { phaseTimingsMs, ...(outcome.parameters ? { qemuParameters: outcome.parameters } : {}) } : {}),
    } satisfies ResultEvent);
    return;
  }
  output.result(
    `Migrated ${result.domain} to ${destination} over ${result.transport}${result.encrypted ? '' : ' (unencrypted)'}: ${formatDuration(result.totalTimeMs)} total, downtime ${outcome.downtimeMs} ms, ${formatBytes(outcome.transferredBytes)} in ${outcome.passes} passes (${formatBytes(outcome.throughputBps)}/s)${outcome.disks ? `, disks ${outcome.disks.map((disk) => `${disk.target} ${formatBytes(disk.copiedBytes)}`).join(', ')} in ${formatDuration(outcome.diskCopyMs ?? 0)}` : ''}${result.state === 'paused' ? ', left paused' : ''}`,
  );
  if (globals.verbose) {
    output.verbose(`phase timings: ${timings.map(({ phase, ms }) => `${phase} ${formatDuration(ms)}`).join(', ')}`);
    if (outcome.parameters) output.verbose(`QEMU migration parameters: ${describeParameters(outcome.parameters)}`);
  }
}

/** QEMU's parameters as key=value, omitting the empty and TLS-identity ones that say nothing to an operator. */
export function describeParameters(parameters: Record<string, unknown>): string {
  return Object.entries(parameters)
    .filter(([, value]) => value !== '' && value !== null && typeof value !== 'object')
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
}

export default migrateCommand;
