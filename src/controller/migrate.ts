// The migration driver: Begin → Prepare → Perform → Finish → Confirm across two agents, and the way back
// from a failure at each step. Safety rules (shared/DESIGN.md): the destination resumes only in Finish (in
// post-copy, Finish starts at the switch-over), the source is retired only after Finish succeeded, and an
// outcome we cannot know is reported, never guessed.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { VmigError } from '../errors.js';
import { formatBytes } from '../util/format.js';
import type { HostConnection } from '../hosts/connection.js';
import type { MigrationOutcome, MigrationProgress } from '../qemu/migration-stats.js';
import type { ConvergenceOptions } from '../qemu/convergence.js';
import type { MigrationStep } from '../protocol/phases.js';
import type { AgentEvent } from '../protocol/messages.js';
import { parseEvent } from '../protocol/table.js';
import type { Cookie, TransportName, TransportRequest } from '../transports/cookie.js';
import { relayStreams, type StreamRelay } from './stream-relay.js';
import { postcopyEnabled } from '../qemu/convergence.js';
import type { StorageExposure } from '../storage/incoming.js';
import { copiesStorage, planStorage, type DiskCopy, type StorageOptions } from '../storage/plan.js';
import { chooseTransport, type ProbeOutcome, type TransportDecision } from './transport-choice.js';
import { transition, type StepRecord } from './steps.js';
import { afterFinishFailure, afterPerformFailure } from './way-back.js';

export type { MigrationStep } from '../protocol/phases.js';

export interface MigrationReporter {
  phase(step: MigrationStep, detail: string): void;
  progress(progress: MigrationProgress): void;
  warning(message: string): void;
}

export interface MigrateRequest {
  domain: string;
  source: HostConnection;
  destination: HostConnection;
  /** `auto`: TLS when the source reaches the destination's endpoint, else the SSH relay. */
  transport: TransportRequest;
  /** Why this transport was asked for (flag, config, default), for the message that names the choice. */
  transportReason?: string;
  persistent: boolean;
  undefineSource: boolean;
  /** Run the source's definition over a different one of the same name stored on the destination. */
  forceDefinition?: boolean;
  suspend: boolean;
  bandwidthMiBs: number;
  maxDowntimeMs?: number;
  /** Cancel when no byte moves for this long (a dead peer), default 30 s. */
  stallTimeoutMs?: number;
  /** Auto-converge, post-copy, multifd, xbzrle, --timeout and its action. */
  convergence?: ConvergenceOptions;
  listenAddress?: string;
  portRange?: [number, number];
  /** ssh: the source host opens SSH to the destination itself (its own ssh, config and known_hosts). */
  p2p?: boolean;
  /** Aborting it (Ctrl-C) cancels the stream; it is ignored once the switch-over has begun. */
  signal?: AbortSignal;
  /** Storage migration: which local disks to copy and where (--copy-storage-all/-inc, --migrate-disks, --storage-map). */
  storage?: StorageOptions;
}

export interface MigrateResult {
  migrationId: string;
  domain: string;
  transport: TransportName;
  encrypted: boolean;
  /** Why that transport, in words for the operator. */
  transportReason: string;
  outcome: MigrationOutcome;
  totalTimeMs: number;
  state: 'running' | 'paused';
  /** Wall-clock ms of the destination QEMU's RESUME event (the guest runs again), when it was seen. */
  destinationResumeAt?: number;
}

const recoverHint = (request: MigrateRequest) =>
  `vmig recover ${request.domain} -c ${request.source.uri.text} --destination ${request.destination.uri.text}`;

async function bestEffort(action: () => Promise<unknown>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch {
    return false;
  }
}

type Finished = { state: 'running' | 'paused'; resumedAt?: number };

/** One migration as the driver runs it: what each step needs and leaves for the next. */
interface Run {
  request: MigrateRequest;
  reporter: MigrationReporter;
  migrationId: string;
  /** Where the driver stands: set only by transition() (steps.ts), which also reports it. */
  step?: MigrationStep;
  history: StepRecord[];
  /** Storage migration: the disks to copy (empty: memory only), and where the destination exports them. */
  copies: DiskCopy[];
  exposed?: StorageExposure;
  /** The controller's ssh relay, when the stream goes through it. */
  relay?: StreamRelay;
  /**
   * Set once the source reports post-copy: from then on the destination holds the guest and must not be removed,
   * and Finish starts at once, while Perform still runs: the guest resumes there and pulls the pages it lacks.
   */
  postcopyFinish?: Promise<Finished>;
}

const finish = (run: Run, postcopy: boolean): Promise<Finished> =>
  run.request.destination.call('migrate.finish', {
    migrationId: run.migrationId,
    suspend: run.request.suspend,
    persistent: run.request.persistent,
    postcopy,
  });

/** Narrows `auto` by asking the source to probe the TLS endpoint; the destination closes the listener not taken. */
async function settleTransport(
  request: MigrateRequest,
  migrationId: string,
  cookie: Cookie,
): Promise<TransportDecision> {
  const intent = { request: request.transport, reason: request.transportReason ?? `--transport ${request.transport}` };
  let probe: ProbeOutcome | undefined;
  if (request.transport === 'auto' && cookie.endpoint) {
    probe = await request.source.call('migrate.probe', { migrationId, endpoint: cookie.endpoint });
  }
  const decision = chooseTransport(intent, cookie.endpoint, probe);
  if (request.transport === 'auto' && decision.transport !== 'direct')
    await request.destination.call('migrate.select-transport', { migrationId, transport: decision.transport });
  return decision;
}

/** Begin on the source, the storage plan, Prepare on the destination; a failure after Begin releases the source. */
async function beginAndPrepare(run: Run): Promise<Cookie> {
  const { request, migrationId } = run;
  const { source, destination, domain } = request;
  transition(run, 'begin', `checking ${domain} on ${source.label}`);
  const begun = await source.call('migrate.begin', {
    name: domain,
    migrationId,
    controller: hostname(),
    peer: destination.label,
  });
  try {
    run.copies = planStorage(domain, begun.disks ?? [], request.storage ?? {});
  } catch (error) {
    await bestEffort(() => source.call('migrate.release', { migrationId }));
    throw error;
  }
  const { copies } = run;
  transition(
    run,
    'prepare',
    copies.length > 0
      ? `creating ${copies.map((copy) => `${copy.target} (${formatBytes(copy.virtualSize)})`).join(', ')} and starting the receiving QEMU on ${destination.label}`
      : `starting the receiving QEMU on ${destination.label}`,
  );
  try {
    const { cookie, storage } = await destination.call('migrate.prepare', {
      ...(copies.length > 0 ? { storage: { copies } } : {}),
      migrationId,
      definition: begun.definition,
      accel: begun.accel,
      peer: source.label,
      transport: request.transport,
      forceDefinition: request.forceDefinition === true,
      ...(request.convergence ? { convergence: request.convergence } : {}),
      ...(request.listenAddress ? { listenAddress: request.listenAddress } : {}),
      ...(request.portRange ? { portRange: request.portRange } : {}),
    });
    if (storage) run.exposed = storage;
    return cookie;
  } catch (error) {
    await bestEffort(() => source.call('migrate.release', { migrationId }));
    throw error;
  }
}

/** p2p: the destination as the controller reached it over SSH; the source host's own ssh config resolves the name. */
export function p2pTarget(destination: HostConnection): { host: string; user?: string; port?: number } {
  const uri = destination.uri;
  if (uri.kind !== 'ssh') throw new VmigError('USAGE', `--p2p needs a destination reached over SSH, not ${uri.text}`);
  return { host: uri.host, ...(uri.user ? { user: uri.user } : {}), ...(uri.port ? { port: uri.port } : {}) };
}

/** The data plane's endpoints for this migration: the transport, the source's tunnel end, the ssh relay. */
async function openDataPlane(run: Run, prepared: Cookie): Promise<{ transport: TransportDecision; cookie: Cookie }> {
  const { request, migrationId } = run;
  const { source, destination } = request;
  const transport = await settleTransport(request, migrationId, prepared);
  const cookie = { ...prepared, transport: transport.transport };
  transition(
    run,
    'prepare',
    `transport ${transport.transport} (${transport.encrypted ? 'encrypted' : 'unencrypted'}): ${transport.reason}`,
  );
  if (transport.transport !== 'direct') {
    // The source's tunnel end exists before QEMU starts; for ssh, the controller listens on its sockets.
    const p2p = transport.transport === 'ssh' && request.p2p ? p2pTarget(destination) : undefined;
    if (p2p)
      transition(
        run,
        'prepare',
        `p2p: ${source.label} opens SSH to ${p2p.host} itself; the controller stays out of the data path`,
      );
    const { sockets } = await source.call('migrate.tunnel', { migrationId, cookie, ...(p2p ? { p2p } : {}) });
    if (transport.transport === 'ssh' && !p2p) run.relay = await relayStreams({ source, destination, cookie, sockets });
  }
  return { transport, cookie };
}

/** Perform: the stream runs on the source; progress and warnings come back as events. */
async function perform(
  run: Run,
  prepared: Cookie,
): Promise<{ transport: TransportDecision; outcome: MigrationOutcome }> {
  const { request, reporter, migrationId } = run;
  const { source, destination, domain } = request;
  const onEvent = (raw: AgentEvent) => {
    const event = parseEvent(raw);
    if (!event || event.data.migrationId !== migrationId) return;
    if (event.event === 'migration.progress') {
      const data = event.data;
      if (data.status.startsWith('postcopy') && !run.postcopyFinish) {
        transition(
          run,
          'finish',
          `post-copy: resuming ${domain} on ${destination.label} while the remaining pages follow`,
        );
        run.postcopyFinish = finish(run, true);
        // Awaited after Perform; until then a rejection must not count as unhandled.
        run.postcopyFinish.catch(() => undefined);
      }
      reporter.progress(data);
    }
    if (event.event === 'migration.warning' && event.data.message) reporter.warning(event.data.message);
  };
  source.events.on('event', onEvent);
  const cancel = () => void bestEffort(() => source.call('migrate.cancel', { migrationId }));
  request.signal?.addEventListener('abort', cancel, { once: true });
  try {
    if (request.signal?.aborted)
      throw new VmigError('MIGRATION_ABORTED', 'the migration was interrupted before the copy started');
    const { transport, cookie } = await openDataPlane(run, prepared);
    const { copies } = run;
    transition(
      run,
      'perform',
      copies.length > 0
        ? `copying disks ${copies.map((copy) => copy.target).join(', ')} (${formatBytes(copies.reduce((sum, copy) => sum + copy.virtualSize, 0))}), then the memory of ${domain}, to ${destination.label} over ${transport.transport}`
        : `copying ${domain} to ${destination.label} over ${transport.transport}`,
    );
    const outcome = await source.call('migrate.perform', {
      migrationId,
      cookie,
      bandwidthMiBs: request.bandwidthMiBs,
      ...(request.maxDowntimeMs ? { maxDowntimeMs: request.maxDowntimeMs } : {}),
      ...(request.stallTimeoutMs ? { stallTimeoutMs: request.stallTimeoutMs } : {}),
      ...(request.convergence ? { convergence: request.convergence } : {}),
      ...(copies.length > 0
        ? {
            storage: {
              copies,
              synchronousWrites: request.storage?.synchronousWrites === true,
              ...(transport.transport === 'direct' && run.exposed?.nbd ? { nbd: run.exposed.nbd } : {}),
            },
          }
        : {}),
    });
    return { transport, outcome };
  } catch (error) {
    throw await leavePerform(run, error);
  } finally {
    request.signal?.removeEventListener('abort', cancel);
    source.events.off('event', onEvent);
  }
}

/** Carries out afterPerformFailure()'s answer; returns the error to report. */
async function leavePerform(run: Run, error: unknown): Promise<VmigError> {
  const { request, migrationId, relay } = run;
  const { source, destination, domain } = request;
  const message = (error as Error).message;
  const exit = afterPerformFailure(error, run.postcopyFinish !== undefined);
  if (exit.kind === 'hold-both') {
    await relay?.close();
    await bestEffort(() => destination.call('migrate.postcopy-pause', { migrationId }));
    await run.postcopyFinish?.catch(() => undefined);
    return new VmigError(
      'NEEDS_RECOVERY',
      `${message}; neither side was resumed or removed. Resolve with: ${recoverHint(request)}`,
      { cause: error },
    );
  }
  transition(
    run,
    'rollback',
    `removing the receiving QEMU on ${destination.label}${run.copies.length > 0 ? ' and the images created for it' : ''}`,
  );
  // The ssh relay runs here, not in the source agent: its reason completes QEMU's terse one.
  const relayFailure = relay?.failure();
  await relay?.close();
  await bestEffort(() => destination.call('migrate.abort', { migrationId }));
  if (exit.kind === 'source-lost') {
    return new VmigError(
      'NEEDS_RECOVERY',
      `lost the source ${source.label} during the copy (${message}); its agent cancels on its own, check with: ${recoverHint(request)}`,
    );
  }
  await bestEffort(() => source.call('migrate.release', { migrationId }));
  return new VmigError(
    exit.code,
    `${message}${relayFailure ? ` (${relayFailure})` : ''}; ${domain} is still running on ${source.label}`,
    { cause: error },
  );
}

/** Finish on the destination (already running in post-copy); a failure is left the way afterFinishFailure() says. */
async function finishStep(run: Run): Promise<Finished> {
  const { request, migrationId } = run;
  const { source, destination, domain } = request;
  if (!run.postcopyFinish) transition(run, 'finish', `resuming ${domain} on ${destination.label}`);
  try {
    return await (run.postcopyFinish ?? finish(run, false));
  } catch (error) {
    const message = (error as Error).message;
    const exit = afterFinishFailure(error, run.postcopyFinish !== undefined);
    if (exit.kind === 'destination-holds') {
      throw new VmigError(
        'NEEDS_RECOVERY',
        `${message}; ${domain} ran on ${destination.label} in post-copy, the source was not resumed. Resolve with: ${recoverHint(request)}`,
      );
    }
    if (exit.kind === 'outcome-unknown') {
      throw new VmigError(
        'NEEDS_RECOVERY',
        `lost ${destination.label} while it was taking over ${domain}; both sides hold it paused. Resolve with: ${recoverHint(request)}`,
      );
    }
    transition(run, 'rollback', `the destination could not take over; resuming ${domain} on ${source.label}`);
    await bestEffort(() => destination.call('migrate.abort', { migrationId }));
    const resumed = await bestEffort(() => source.call('migrate.resume', { migrationId }));
    if (!resumed)
      throw new VmigError(
        'NEEDS_RECOVERY',
        `${message}; resuming the source failed too. Resolve with: ${recoverHint(request)}`,
      );
    throw new VmigError('MIGRATION_FAILED', `${message}; ${domain} resumed on ${source.label}`, { cause: error });
  }
}

/** Confirm: the destination runs the guest; retire the source. Failing here leaves the guest on the destination. */
async function confirm(run: Run): Promise<void> {
  const { request, migrationId } = run;
  const { source, destination, domain } = request;
  transition(run, 'confirm', `retiring the old QEMU on ${source.label}`);
  try {
    await source.call('migrate.confirm', { migrationId, undefineSource: request.undefineSource });
  } catch (error) {
    throw new VmigError(
      'NEEDS_RECOVERY',
      `${domain} runs on ${destination.label}, but the old QEMU on ${source.label} was not retired (${(error as Error).message}). Resolve with: ${recoverHint(request)}`,
    );
  }
}

export async function migrate(request: MigrateRequest, reporter: MigrationReporter): Promise<MigrateResult> {
  const { source, destination, domain } = request;
  const started = Date.now();
  if (source.hello.hostId === destination.hello.hostId) {
    throw new VmigError('SAME_HOST', `the destination ${destination.label} is the source host itself`);
  }
  if (copiesStorage(request.storage ?? {}) && request.convergence && postcopyEnabled(request.convergence)) {
    throw new VmigError(
      'USAGE',
      'post-copy cannot be combined with --copy-storage-all/--copy-storage-inc: the disks must be complete before the guest may run on the destination',
    );
  }
  const run: Run = { request, reporter, migrationId: randomUUID(), copies: [], history: [] };
  const cookie = await beginAndPrepare(run);
  const { transport, outcome } = await perform(run, cookie);
  const finished = await finishStep(run);
  await confirm(run);
  return {
    migrationId: run.migrationId,
    domain,
    transport: transport.transport,
    encrypted: transport.encrypted,
    transportReason: transport.reason,
    outcome,
    totalTimeMs: Date.now() - started,
    state: finished.state,
    ...(finished.resumedAt !== undefined ? { destinationResumeAt: finished.resumedAt } : {}),
  };
}
