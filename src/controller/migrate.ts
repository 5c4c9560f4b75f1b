// The migration driver: Begin → Prepare → Perform → Finish → Confirm across two agents, and the way back
// from a failure at each step. Safety rules (shared/DESIGN.md): the destination resumes only in Finish (in
// post-copy, Finish starts at the switch-over), the source is retired only after Finish succeeded, and an
// outcome we cannot know is reported, never guessed.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { VmigError, isVmigError } from '../errors.js';
import type { HostConnection } from '../hosts/connection.js';
import type { MigrationOutcome, MigrationProgress } from '../qemu/migration-stats.js';
import type { ConvergenceOptions } from '../qemu/convergence.js';
import type { Cookie, TransportName, TransportRequest } from '../transports/cookie.js';
import type { OutgoingSocket } from '../transports/streams.js';
import { relayStreams, type StreamRelay } from './stream-relay.js';
import { postcopyEnabled } from '../qemu/convergence.js';
import type { StorageExposure } from '../storage/incoming.js';
import { copiesStorage, planStorage, type DiskCopy, type SourceDisk, type StorageOptions } from '../storage/plan.js';
import { chooseTransport, type ProbeOutcome, type TransportDecision } from './transport-choice.js';

export type MigrationPhase = 'begin' | 'prepare' | 'perform' | 'finish' | 'confirm' | 'rollback';

export interface MigrationReporter {
  phase(phase: MigrationPhase, detail: string): void;
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

const formatGiB = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(bytes < 1024 ** 3 ? 2 : 1)} GiB`;

const recoverHint = (request: MigrateRequest) => `vmig recover ${request.domain} -c ${request.source.uri.text} --destination ${request.destination.uri.text}`;

const connectionLost = (error: unknown): boolean => !isVmigError(error) || error.code === 'AGENT_FAILED' || error.code === 'PROTOCOL_MISMATCH';

async function bestEffort(action: () => Promise<unknown>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch {
    return false;
  }
}

/** p2p: the destination as the controller reached it over SSH; the source host's own ssh config resolves the name. */
function p2pTarget(destination: HostConnection): { host: string; user?: string; port?: number } {
  const uri = destination.uri;
  if (uri.kind !== 'ssh') throw new VmigError('USAGE', `--p2p needs a destination reached over SSH, not ${uri.text}`);
  return { host: uri.host, ...(uri.user ? { user: uri.user } : {}), ...(uri.port ? { port: uri.port } : {}) };
}

/** Narrows `auto` by asking the source to probe the TLS endpoint; the destination closes the listener not taken. */
async function settleTransport(request: MigrateRequest, migrationId: string, cookie: Cookie): Promise<TransportDecision> {
  const intent = { request: request.transport, reason: request.transportReason ?? `--transport ${request.transport}` };
  let probe: ProbeOutcome | undefined;
  if (request.transport === 'auto' && cookie.endpoint) {
    probe = await request.source.call<ProbeOutcome>('migrate.probe', { migrationId, endpoint: cookie.endpoint });
  }
  const decision = chooseTransport(intent, cookie.endpoint, probe);
  if (request.transport === 'auto') await request.destination.call('migrate.select-transport', { migrationId, transport: decision.transport });
  return decision;
}

export async function migrate(request: MigrateRequest, reporter: MigrationReporter): Promise<MigrateResult> {
  const { source, destination, domain } = request;
  const started = Date.now();
  if (source.hello.hostId === destination.hello.hostId) {
    throw new VmigError('SAME_HOST', `the destination ${destination.label} is the source host itself`);
  }
  const storageOptions = request.storage ?? {};
  if (copiesStorage(storageOptions) && request.convergence && postcopyEnabled(request.convergence)) {
    throw new VmigError('USAGE', 'post-copy cannot be combined with --copy-storage-all/--copy-storage-inc: the disks must be complete before the guest may run on the destination');
  }
  const migrationId = randomUUID();

  reporter.phase('begin', `checking ${domain} on ${source.label}`);
  const begun = await source.call<{ definition: unknown; accel: 'kvm' | 'tcg'; state: string; persistent: boolean; disks?: SourceDisk[] }>('migrate.begin', {
    name: domain,
    migrationId,
    controller: hostname(),
    peer: destination.label,
  });
  let copies: DiskCopy[];
  try {
    copies = planStorage(domain, begun.disks ?? [], storageOptions);
  } catch (error) {
    await bestEffort(() => source.call('migrate.release', { migrationId }));
    throw error;
  }

  reporter.phase('prepare', copies.length > 0 ? `creating ${copies.map((copy) => `${copy.target} (${formatGiB(copy.virtualSize)})`).join(', ')} and starting the receiving QEMU on ${destination.label}` : `starting the receiving QEMU on ${destination.label}`);
  let cookie: Cookie;
  let exposed: StorageExposure | undefined;
  try {
    ({ cookie, storage: exposed } = await destination.call<{ cookie: Cookie; storage?: StorageExposure }>('migrate.prepare', {
      ...(copies.length > 0 ? { storage: { copies } } : {}),
      migrationId,
      definition: begun.definition,
      accel: begun.accel,
      peer: source.label,
      transport: request.transport,
      ...(request.convergence ? { convergence: request.convergence } : {}),
      ...(request.listenAddress ? { listenAddress: request.listenAddress } : {}),
      ...(request.portRange ? { portRange: request.portRange } : {}),
    }));
  } catch (error) {
    await bestEffort(() => source.call('migrate.release', { migrationId }));
    throw error;
  }

  let transport: TransportDecision | undefined;
  let relay: StreamRelay | undefined;
  type Finished = { state: 'running' | 'paused'; resumedAt?: number };
  const finish = (postcopy: boolean) => destination.call<Finished>('migrate.finish', { migrationId, suspend: request.suspend, persistent: request.persistent, postcopy });
  // Set once the source reports post-copy: from then on the destination holds the guest and must not be removed,
  // and Finish starts at once, while Perform still runs: the guest resumes there and pulls the pages it lacks.
  let postcopyStarted = false;
  let postcopyFinish: Promise<Finished> | undefined;
  const onEvent = (event: { event: string; data: unknown }) => {
    const data = event.data as MigrationProgress & { migrationId?: string; message?: string };
    if (data.migrationId !== migrationId) return;
    if (event.event === 'migration.progress') {
      if (data.status.startsWith('postcopy') && !postcopyStarted) {
        postcopyStarted = true;
        reporter.phase('finish', `post-copy: resuming ${domain} on ${destination.label} while the remaining pages follow`);
        postcopyFinish = finish(true);
        // Awaited after Perform; until then a rejection must not count as unhandled.
        postcopyFinish.catch(() => undefined);
      }
      reporter.progress(data);
    }
    if (event.event === 'migration.warning' && data.message) reporter.warning(data.message);
  };
  source.events.on('event', onEvent);
  const cancel = () => void bestEffort(() => source.call('migrate.cancel', { migrationId }));
  request.signal?.addEventListener('abort', cancel, { once: true });
  let outcome: MigrationOutcome;
  try {
    if (request.signal?.aborted) throw new VmigError('MIGRATION_ABORTED', 'the migration was interrupted before the copy started');
    transport = await settleTransport(request, migrationId, cookie);
    cookie = { ...cookie, transport: transport.transport };
    reporter.phase('prepare', `transport ${transport.transport} (${transport.encrypted ? 'encrypted' : 'unencrypted'}): ${transport.reason}`);
    if (transport.transport !== 'direct') {
      // The source's tunnel end exists before QEMU starts; for ssh, the controller listens on its sockets.
      const p2p = transport.transport === 'ssh' && request.p2p ? p2pTarget(destination) : undefined;
      if (p2p) reporter.phase('prepare', `p2p: ${source.label} opens SSH to ${p2p.host} itself; the controller stays out of the data path`);
      const { sockets } = await source.call<{ sockets: OutgoingSocket[] }>('migrate.tunnel', { migrationId, cookie, ...(p2p ? { p2p } : {}) });
      if (transport.transport === 'ssh' && !p2p) relay = await relayStreams({ source, destination, cookie, sockets });
    }
    reporter.phase(
      'perform',
      copies.length > 0
        ? `copying disks ${copies.map((copy) => copy.target).join(', ')} (${formatGiB(copies.reduce((sum, copy) => sum + copy.virtualSize, 0))}), then the memory of ${domain}, to ${destination.label} over ${transport.transport}`
        : `copying ${domain} to ${destination.label} over ${transport.transport}`,
    );
    outcome = await source.call<MigrationOutcome>('migrate.perform', {
      migrationId,
      cookie,
      bandwidthMiBs: request.bandwidthMiBs,
      ...(request.maxDowntimeMs ? { maxDowntimeMs: request.maxDowntimeMs } : {}),
      ...(request.stallTimeoutMs ? { stallTimeoutMs: request.stallTimeoutMs } : {}),
      ...(request.convergence ? { convergence: request.convergence } : {}),
      ...(copies.length > 0
        ? { storage: { copies, synchronousWrites: storageOptions.synchronousWrites === true, ...(transport.transport === 'direct' && exposed?.nbd ? { nbd: exposed.nbd } : {}) } }
        : {}),
    });
  } catch (error) {
    if (postcopyStarted || (isVmigError(error) && error.code === 'NEEDS_RECOVERY')) {
      // Post-copy: the guest's memory is split between the hosts; resuming the source or removing the destination
      // would lose it. Both sides are paused so that `vmig recover` can resume the stream.
      await relay?.close();
      await bestEffort(() => destination.call('migrate.postcopy-pause', { migrationId }));
      await postcopyFinish?.catch(() => undefined);
      throw new VmigError('NEEDS_RECOVERY', `${(error as Error).message}; neither side was resumed or removed. Resolve with: ${recoverHint(request)}`, { cause: error });
    }
    reporter.phase('rollback', `removing the receiving QEMU on ${destination.label}${copies.length > 0 ? ' and the images created for it' : ''}`);
    // The ssh relay runs here, not in the source agent: its reason completes QEMU's terse one.
    const relayFailure = relay?.failure();
    await relay?.close();
    await bestEffort(() => destination.call('migrate.abort', { migrationId }));
    if (connectionLost(error)) {
      throw new VmigError('NEEDS_RECOVERY', `lost the source ${source.label} during the copy (${(error as Error).message}); its agent cancels on its own, check with: ${recoverHint(request)}`);
    }
    await bestEffort(() => source.call('migrate.release', { migrationId }));
    const aborted = isVmigError(error) && error.code === 'MIGRATION_ABORTED';
    throw new VmigError(aborted ? 'MIGRATION_ABORTED' : 'MIGRATION_FAILED', `${(error as Error).message}${relayFailure ? ` (${relayFailure})` : ''}; ${domain} is still running on ${source.label}`, { cause: error });
  } finally {
    request.signal?.removeEventListener('abort', cancel);
    source.events.off('event', onEvent);
  }

  if (!postcopyFinish) reporter.phase('finish', `resuming ${domain} on ${destination.label}`);
  let finished: Finished;
  try {
    finished = await (postcopyFinish ?? finish(false));
  } catch (error) {
    if (postcopyFinish) {
      // The destination ran the guest already: the source's copy is stale and must never be resumed.
      throw new VmigError('NEEDS_RECOVERY', `${(error as Error).message}; ${domain} ran on ${destination.label} in post-copy, the source was not resumed. Resolve with: ${recoverHint(request)}`);
    }
    if (connectionLost(error)) {
      // We cannot know whether the destination resumed: resuming the source now could run the guest twice.
      throw new VmigError('NEEDS_RECOVERY', `lost ${destination.label} while it was taking over ${domain}; both sides hold it paused. Resolve with: ${recoverHint(request)}`);
    }
    reporter.phase('rollback', `the destination could not take over; resuming ${domain} on ${source.label}`);
    await bestEffort(() => destination.call('migrate.abort', { migrationId }));
    const resumed = await bestEffort(() => source.call('migrate.resume', { migrationId }));
    if (!resumed) throw new VmigError('NEEDS_RECOVERY', `${(error as Error).message}; resuming the source failed too. Resolve with: ${recoverHint(request)}`);
    throw new VmigError('MIGRATION_FAILED', `${(error as Error).message}; ${domain} resumed on ${source.label}`, { cause: error });
  }

  reporter.phase('confirm', `retiring the old QEMU on ${source.label}`);
  try {
    await source.call('migrate.confirm', { migrationId, undefineSource: request.undefineSource });
  } catch (error) {
    throw new VmigError('NEEDS_RECOVERY', `${domain} runs on ${destination.label}, but the old QEMU on ${source.label} was not retired (${(error as Error).message}). Resolve with: ${recoverHint(request)}`);
  }

  return {
    migrationId,
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
