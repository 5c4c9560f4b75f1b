// Perform on the source: start QEMU's stream, then watch it until it completes, acting on what the pure policy
// (src/qemu/perform-policy.ts) decides at each look. The QMP calls are here; the decisions are not. Every
// failure the policy declares leaves through rollback(), the one way back.
import { VmigError } from '../errors.js';
import type { ParsedParams } from '../protocol/methods.js';
import type { HandlerResult } from '../protocol/methods.js';
import { watchEventTime } from '../qemu/event-time.js';
import { postcopyEnabled } from '../qemu/convergence.js';
import { qemuSettings } from '../options/qemu.js';
import {
  TERMINAL_STATUSES,
  outgoingStatus,
  toOutcome,
  type DiskCopyProgress,
  type QueryMigrate,
} from '../qemu/migration-stats.js';
import type { NbdAddress } from '../storage/exports.js';
import { diskPhaseProgress, Mirrors, toDiskProgress, waitUntilReady } from '../storage/mirror.js';
import { diskStream } from '../transports/streams.js';
import {
  initialDowntime,
  initialState,
  nextStep,
  type Action,
  type PolicyOptions,
  type Rollback,
} from '../qemu/perform-policy.js';
import { pausePostcopy } from '../qemu/postcopy.js';
import type { QmpClient } from '../qemu/qmp.js';
import { PHASES } from '../protocol/phases.js';
import { sleep } from '../util/timers.js';
import type { AgentContext } from './context.js';
import { transition, type SourceMigration } from './migration-state.js';

type PerformParams = ParsedParams<'migrate.perform'>;

/** QEMU's "no cap" (the options table sets it for --bandwidth 0). */
export { UNLIMITED_BANDWIDTH } from '../options/table.js';

/** QEMU statuses worth waking the perform loop for at once, rather than at the next progress tick. */
const WAKE_STATUSES = new Set([...TERMINAL_STATUSES, 'postcopy-active', 'postcopy-paused', 'pre-switchover']);

/** Waits (bounded) until QEMU's migration state is final after a cancel. */
export async function waitUntilTerminal(qmp: QmpClient): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const reply = await qmp.execute<QueryMigrate>('query-migrate').catch(() => ({ status: 'failed' }) as QueryMigrate);
    const status = outgoingStatus(reply);
    if (status === 'none' || TERMINAL_STATUSES.has(status)) return;
    await sleep(100);
  }
}

/** Stops the disk mirrors of a migration that will not complete; the source's own disks are untouched. */
export async function cancelMirrors(migration: SourceMigration, context: AgentContext): Promise<void> {
  const mirrors = migration.mirrors;
  migration.mirrors = undefined;
  if (!mirrors) return;
  await mirrors
    .cancel()
    .catch((error: Error) =>
      context.log(`cancelling the disk mirrors of ${migration.migrationId} failed: ${error.message}`),
    );
}

/** Mirrors every copied disk to the destination's export and waits until all have caught up (storage migration). */
async function copyDisks(
  migration: SourceMigration,
  qmp: QmpClient,
  options: PerformParams,
  signal: AbortSignal,
  context: AgentContext,
): Promise<{ disks: DiskCopyProgress[]; ms: number } | undefined> {
  const storage = options.storage;
  if (!storage) return undefined;
  if (postcopyEnabled(options.convergence))
    throw new VmigError('USAGE', 'post-copy cannot be combined with copied disks');
  const addressOf = (target: string): NbdAddress => {
    if (storage.nbd) return storage.nbd;
    // The stream disk-<target> of the migration's stream set starts at this socket (tls: this agent; ssh: the controller).
    const path = migration.tunnel?.sockets.find((socket) => socket.streams.includes(diskStream(target)))?.path;
    if (!path) throw new VmigError('INTERNAL', `no stream for disk ${target} of migration ${migration.migrationId}`);
    return { type: 'unix', path };
  };
  const started = Date.now();
  const mirrors = new Mirrors(qmp, storage.copies, addressOf);
  migration.mirrors = mirrors;
  await mirrors.start({ synchronousWrites: storage.synchronousWrites, bandwidth: options.bandwidthMiBs * 1024 * 1024 });
  const disks = await waitUntilReady(qmp, mirrors, {
    intervalMs: options.progressIntervalMs,
    stallTimeoutMs: options.stallTimeoutMs,
    stopped: () =>
      PHASES[migration.phase].final
        ? `the migration of ${migration.name} was cancelled`
        : signal.aborted
          ? 'the controller disconnected'
          : undefined,
    onProgress: (figures) =>
      context.emit('migration.progress', {
        migrationId: migration.migrationId,
        ...diskPhaseProgress(figures.map(toDiskProgress), Date.now() - started),
      }),
  });
  return { disks: disks.map(toDiskProgress), ms: Date.now() - started };
}

/** What the perform loop needs from the source's other handlers. */
export interface PerformDeps {
  context: AgentContext;
  /** Puts the guest back as it was before the migration (running or paused). */
  restoreSource(migration: SourceMigration): Promise<void>;
  /** Where QEMU sends the stream (the destination, or this agent's tunnel end). */
  outgoingUri(migration: SourceMigration, cookie: PerformParams['cookie']): Promise<string>;
}

/**
 * Sets what the stream needs and starts it. The one place that knows how a migration's streams begin:
 * more streams (multifd, disks) are set up here before `migrate`.
 */
async function startStream(
  qmp: QmpClient,
  migration: SourceMigration,
  options: PerformParams,
  signal: AbortSignal,
  deps: PerformDeps,
): Promise<{
  parameters: Record<string, unknown> | undefined;
  diskCopy: { disks: DiskCopyProgress[]; ms: number } | undefined;
}> {
  const downtime = initialDowntime(options);
  const settings = qemuSettings('source', {
    ...options.convergence,
    bandwidthMiBs: options.bandwidthMiBs,
    downtimeLimitMs: downtime,
    copiesDisks: options.storage !== undefined,
  });
  await qmp.execute('migrate-set-capabilities', { capabilities: settings.capabilities });
  await qmp.execute('migrate-set-parameters', settings.parameters);
  // Reported with the outcome, for `vmig migrate --verbose`: what QEMU actually used, not what we meant to set.
  const parameters = await qmp.execute<Record<string, unknown>>('query-migrate-parameters').catch(() => undefined);
  const uri = await deps.outgoingUri(migration, options.cookie);
  // Disks first: memory follows once every mirror has caught up (and keeps mirroring each write until the switch-over).
  const diskCopy = await copyDisks(migration, qmp, options, signal, deps.context);
  await qmp.execute('migrate', { uri });
  return { parameters, diskCopy };
}

/** The one way back from a failed Perform (see Rollback in perform-policy.ts). */
async function rollback(kind: Rollback, qmp: QmpClient, migration: SourceMigration, deps: PerformDeps): Promise<void> {
  if (kind === 'pause-postcopy') await pausePostcopy(qmp);
  if (kind !== 'cancel' && kind !== 'restore') return;
  if (kind === 'cancel') {
    await qmp.execute('migrate_cancel').catch(() => undefined);
    await waitUntilTerminal(qmp);
  }
  await deps.restoreSource(migration);
  await transition(deps.context, migration, 'begun', 'the stream failed; the guest stays here');
}

/** The stream completed: wait (bounded) for QEMU's figures, which read 0 for a moment after the event. */
async function completion(qmp: QmpClient, first: QueryMigrate): Promise<QueryMigrate> {
  let reply = first;
  for (let attempt = 0; attempt < 50 && !((reply['total-time'] ?? 0) > 0); attempt++) {
    await sleep(10);
    reply = await qmp.execute<QueryMigrate>('query-migrate').catch(() => reply);
  }
  return reply;
}

export async function perform(
  qmp: QmpClient,
  migration: SourceMigration,
  options: PerformParams,
  signal: AbortSignal,
  deps: PerformDeps,
): Promise<HandlerResult<'migrate.perform'>> {
  const { context } = deps;
  // The switch-over's start, for the guest-visible downtime in the result (vmig's benchmark reports it).
  const stopWatch = watchEventTime(qmp, 'STOP');
  try {
    await transition(context, migration, 'performing');
    const { parameters, diskCopy } = await startStream(qmp, migration, options, signal, deps);
    const policy: PolicyOptions = {
      name: migration.name,
      stallTimeoutMs: options.stallTimeoutMs,
      ...(options.maxDowntimeMs ? { maxDowntimeMs: options.maxDowntimeMs } : {}),
      convergence: options.convergence,
    };
    const warn = (message: string) =>
      context.emit('migration.warning', { migrationId: migration.migrationId, message });
    let state = initialState(policy, Date.now());
    for (;;) {
      // Wake at once when QEMU announces the end: each millisecond here is added to the guest's downtime.
      // The switch to post-copy too: the destination resumes the guest as soon as the controller hears of it.
      // Listening before the query: an event sent while this iteration awaits something else is not missed.
      const wake = qmp
        .waitForEvent(
          (event) => event.event === 'MIGRATION' && WAKE_STATUSES.has(String(event.data?.status)),
          options.progressIntervalMs,
        )
        .catch(() => undefined);
      let reply: QueryMigrate;
      try {
        reply = await qmp.execute<QueryMigrate>('query-migrate');
      } catch (error) {
        // migrate.cancel (domjobabort, Ctrl-C) ended the job and closed the monitor under us.
        if (PHASES[migration.phase].final)
          throw new VmigError('MIGRATION_ABORTED', `the migration of ${migration.name} was cancelled`);
        throw error;
      }
      if (outgoingStatus(reply) === 'pre-switchover') {
        // The guest is paused: let each mirror drain its last writes and end (without pivoting), then switch over.
        const mirrors = migration.mirrors;
        migration.mirrors = undefined;
        await mirrors?.complete();
        try {
          await qmp.execute('migrate-continue', { state: 'pre-switchover' });
        } catch (error) {
          // A second look at the same pause (the status was read twice before QEMU moved on) finds the stream already
          // continued after the mirrors completed: consistent. Anything else is a real failure.
          const now = outgoingStatus(await qmp.execute<QueryMigrate>('query-migrate'));
          if (mirrors !== undefined || (now !== 'device' && now !== 'completed')) throw error;
        }
        continue;
      }
      const tunnelFailure = migration.tunnel?.failure();
      const step = nextStep(
        state,
        { now: Date.now(), reply, controllerGone: signal.aborted, ...(tunnelFailure ? { tunnelFailure } : {}) },
        policy,
      );
      state = step.state;
      let waited = false;
      for (const action of step.actions) {
        if (action.kind === 'complete') {
          await transition(context, migration, 'completed');
          const final = await completion(qmp, reply);
          return {
            ...toOutcome(final),
            ...(stopWatch.at !== undefined ? { sourceStopAt: stopWatch.at } : {}),
            ...(parameters ? { parameters } : {}),
            ...(diskCopy
              ? {
                  disks: diskCopy.disks.map((disk) => ({ ...disk, copiedBytes: disk.totalBytes })),
                  diskCopyMs: diskCopy.ms,
                }
              : {}),
          };
        }
        if (action.kind === 'fail') {
          await rollback(action.rollback, qmp, migration, deps);
          throw new VmigError(action.code, action.message);
        }
        if (action.kind === 'wait-start') {
          await qmp.waitForEvent((event) => event.event === 'MIGRATION', 100).catch(() => undefined);
          waited = true;
        } else {
          await act(action, qmp, migration, context, warn, diskCopy);
        }
      }
      if (!waited) await wake;
    }
  } finally {
    stopWatch.stop();
  }
}

/** Carries out one of the policy's non-final actions. */
async function act(
  action: Action,
  qmp: QmpClient,
  migration: SourceMigration,
  context: AgentContext,
  warn: (message: string) => void,
  diskCopy: { disks: DiskCopyProgress[] } | undefined,
): Promise<void> {
  switch (action.kind) {
    case 'progress': {
      // Copied disks keep mirroring each guest write until the switch-over: their figures ride along.
      const disks = migration.mirrors ? (await migration.mirrors.progress()).map(toDiskProgress) : diskCopy?.disks;
      context.emit('migration.progress', {
        migrationId: migration.migrationId,
        ...action.progress,
        ...(disks ? { disks } : {}),
      });
      return;
    }
    case 'postcopy-began':
      // cancel refuses and a vanished controller holds the source (abandonSource): recovery decides, not us.
      migration.postcopy = true;
      return;
    case 'warn':
      warn(action.message);
      return;
    case 'set-downtime':
      await qmp.execute('migrate-set-parameters', { 'downtime-limit': action.limitMs });
      return;
    case 'start-postcopy':
      await qmp.execute('migrate-start-postcopy');
      warn(action.message);
      return;
    case 'suspend':
      await qmp.execute('stop');
      return;
    default:
      throw new VmigError('INTERNAL', `perform: unexpected action ${action.kind}`);
  }
}
