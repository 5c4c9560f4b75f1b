// `vmig migrate NAME DEST`: resolves the options (flags > config > defaults), runs the driver with a live progress
// display, and reports the result (a line, or NDJSON with --json); Ctrl-C cancels until the switch-over starts.
import { migrate, type MigrateResult, type MigrationStep } from '../../controller/migrate.js';
import { assertDomainName } from '../../domain/definition.js';
import { isVmigError } from '../../errors.js';
import type { HostConnection } from '../../hosts/connection.js';
import { parseHostUri } from '../../hosts/uri.js';
import { resolveMigrationOptions } from '../../options/resolve.js';
import { copiesStorage } from '../../storage/plan.js';
import { hostUriOf, openHost } from '../hosts.js';
import type { ResultEvent, StartEvent } from '../json-events.js';
import type { Action, GlobalOptions } from '../action.js';
import { formatBytes, formatDuration } from '../../util/format.js';
import { interruptAction, type InterruptAction } from '../interrupt.js';
import { Output } from '../output.js';
import { createProgressRenderer, type PhaseTiming } from '../progress.js';

const migrateCommand: Action = async (globals, [name, dest], options) => {
  assertDomainName(name!);
  // Checked before connecting anywhere: bad input changes nothing.
  parseHostUri(hostUriOf(globals, globals.connect));
  parseHostUri(hostUriOf(globals, dest!));
  // Flags win over the config file's entry for the destination, which wins over its top-level defaults. The
  // storage flags' rules (checkStorageFlags, no post-copy with a disk copy) are checked there too.
  const migration = resolveMigrationOptions(options, globals.settings, dest!);
  const storage = migration.storage ?? {};
  if (options.dryRun === true) return dryRun(globals, name!, dest!, migration);
  const output = new Output(globals);
  const renderer = await createProgressRenderer(output, globals.json);
  let currentPhase: MigrationStep = 'begin';
  const reporter = {
    ...renderer,
    phase: (phase: MigrationStep, detail: string) => {
      currentPhase = phase;
      renderer.phase(phase, detail);
    },
  };
  const started = Date.now();
  if (globals.json)
    output.event({
      type: 'start',
      time: new Date().toISOString(),
      domain: name!,
      source: globals.connect,
      destination: dest!,
      transport: migration.transport,
    } satisfies StartEvent);
  if (migration.transport === 'direct')
    reporter.warning(
      `the direct transport sends guest memory${copiesStorage(storage) ? ' and disks' : ''} unencrypted and unauthenticated over the network`,
    );

  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    const action = interruptAction(interrupts, currentPhase);
    if (action === 'cancel') abort.abort();
    output.info(interruptMessage(action, signal, name!, dest!, currentPhase));
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
        ...migration,
        signal: abort.signal,
      },
      reporter,
    );
    reporter.stop();
    report(output, globals, result, globals.connect, dest!, renderer.timings());
  } catch (error) {
    reporter.stop();
    if (globals.json)
      output.event(
        failureEvent(
          error,
          globals,
          { domain: name!, destination: dest!, transport: migration.transport, started },
          renderer.timings(),
        ),
      );
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([source?.close(), destination?.close()].map((closing) => closing?.catch(() => undefined)));
  }
};

/** `--dry-run`: the checks of Begin and Prepare on both hosts, the port and the transport, and nothing else. */
async function dryRun(
  globals: GlobalOptions,
  domain: string,
  dest: string,
  migration: ReturnType<typeof resolveMigrationOptions>,
): Promise<void> {
  const storage = migration.storage ?? {};
  const { runDryRun } = await import('./migrate-dry-run.js');
  const intent = { request: migration.transport, reason: migration.transportReason ?? '' };
  await runDryRun(globals, {
    domain,
    dest,
    intent,
    ...(copiesStorage(storage) ? { storage } : {}),
    // A dry run must refuse exactly what the run would: a differing stored definition passes only with the flag.
    ...(migration.forceDefinition ? { forceDefinition: true } : {}),
    ...(migration.listenAddress ? { listenAddress: migration.listenAddress } : {}),
    ...(migration.portRange ? { portRange: migration.portRange } : {}),
  });
}

/** What the operator reads on a signal, for interruptAction()'s answer. */
function interruptMessage(
  action: InterruptAction,
  signal: NodeJS.Signals,
  name: string,
  dest: string,
  step: MigrationStep,
): string {
  if (action === 'cancel')
    return `\n${signal}: cancelling the migration; ${name} stays on the source (press Ctrl-C again to see what is pending)`;
  if (action === 'wait-for-switchover')
    return `\n${signal}: ${name} is switching over to ${dest}; that cannot be interrupted safely, waiting for ${step} to end`;
  return `still waiting for ${step}: the hosts must confirm that ${name} runs on exactly one of them`;
}

/** The --json result event of a migration that failed (the error line itself comes from the top level). */
function failureEvent(
  error: unknown,
  globals: GlobalOptions,
  run: { domain: string; destination: string; transport: string; started: number },
  timings: PhaseTiming[],
): ResultEvent {
  return {
    type: 'result',
    time: new Date().toISOString(),
    status: isVmigError(error) && error.code === 'NEEDS_RECOVERY' ? 'needs-recovery' : 'failed',
    domain: run.domain,
    source: globals.connect,
    destination: run.destination,
    transport: run.transport,
    encrypted: run.transport !== 'direct',
    totalTimeMs: Date.now() - run.started,
    error: { code: isVmigError(error) ? error.code : 'INTERNAL', message: (error as Error).message },
    ...(globals.verbose ? { phaseTimingsMs: Object.fromEntries(timings.map(({ phase, ms }) => [phase, ms])) } : {}),
  };
}

function report(
  output: Output,
  globals: GlobalOptions,
  result: MigrateResult,
  source: string,
  destination: string,
  timings: PhaseTiming[],
): void {
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
      ...(globals.verbose
        ? { phaseTimingsMs, ...(outcome.parameters ? { qemuParameters: outcome.parameters } : {}) }
        : {}),
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
