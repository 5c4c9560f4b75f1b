// Agent handlers for resuming a broken post-copy stream (`vmig recover`). After the switch-over the guest runs
// on the destination while pages it has not fetched yet are only on the source: neither side can go on alone,
// so both wait in QEMU's `postcopy-paused` state until a new stream carries the rest (QEMU's post-copy recovery:
// `migrate-recover` on the destination, `migrate` with `resume` on the source). The new stream goes over a
// fresh one-time cookie and any transport, so the recovery is as well protected as the migration was.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { assertDomainName } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import type { QueryMigrate } from '../qemu/migration-stats.js';
import { pausePostcopy } from '../qemu/postcopy.js';
import { QmpClient } from '../qemu/qmp.js';
import { StallDetector } from '../qemu/stall.js';

import { directOutgoingUri } from '../transports/direct.js';
import { closeEnds, openIncoming, type IncomingEnds } from '../transports/incoming.js';
import { openOutgoing, type OutgoingTunnel } from '../transports/outgoing.js';
import { DEFAULT_PORT_RANGE } from '../transports/ports.js';
import type { HandlerGroup } from '../protocol/table.js';
import { unlinkIfPresent } from '../util/fs.js';
import type { AgentContext } from './context.js';
import { loadHostConfig } from './host-config.js';
import { ownedByOtherLiveAgent, type Instance } from './instances.js';
import { journalPhase } from './migration-state.js';

/** What this agent holds open for one recovery, between the controller's calls. */
interface Recovery {
  qmp: QmpClient;
  incoming?: IncomingEnds;
  outgoing?: OutgoingTunnel;
}

/** Bounded: a paused stream that neither completes nor breaks again within this is reported, not waited on. */
const SETTLE_TIMEOUT_MS = 60_000;

export type PostcopyRecoveryMethod =
  | 'recover.postcopy-listen'
  | 'recover.postcopy-tunnel'
  | 'recover.postcopy-resume'
  | 'recover.postcopy-finish';

export function postcopyRecoveryHandlers(context: AgentContext): HandlerGroup<PostcopyRecoveryMethod> {
  const { instances } = context;
  const recoveries = new Map<string, Recovery>();

  async function pausedInstance(name: string): Promise<Instance> {
    assertDomainName(name);
    const instance = await instances.find(name);
    if (!instance) throw new VmigError('DOMAIN_NOT_RUNNING', `no QEMU of ${name} on ${context.host}`);
    if (ownedByOtherLiveAgent(instance)) {
      throw new VmigError('LOCKED', `${name} on ${context.host} still belongs to a running migration`);
    }
    return instance;
  }

  /** Connects to QEMU and brings a stuck (silent) post-copy stream into `postcopy-paused`, where it can resume. */
  async function open(name: string): Promise<Recovery> {
    const existing = recoveries.get(name);
    if (existing && !existing.qmp.isClosed) return existing;
    const instance = await pausedInstance(name);
    const qmp = await QmpClient.connect(instance.paths.qmpSocket);
    await pausePostcopy(qmp);
    const reply = await qmp.execute<QueryMigrate>('query-migrate');
    if (reply.status !== 'postcopy-paused') {
      qmp.close();
      throw new VmigError(
        'NEEDS_RECOVERY',
        `${name} on ${context.host} is not in a paused post-copy (QEMU reports ${reply.status ?? 'none'})`,
      );
    }
    const recovery: Recovery = { qmp };
    recoveries.set(name, recovery);
    return recovery;
  }

  async function close(name: string): Promise<void> {
    const recovery = recoveries.get(name);
    recoveries.delete(name);
    if (!recovery) return;
    if (recovery.incoming) await closeEnds(recovery.incoming);
    await recovery.outgoing?.end.close().catch(() => undefined);
    recovery.qmp.close();
  }

  /** Polls until QEMU's migration status is `completed`; a stream that breaks again or moves nothing fails. */
  async function waitForCompletion(
    qmp: QmpClient,
    where: string,
    stall: StallDetector | undefined,
    failure: () => string | undefined,
  ): Promise<QueryMigrate> {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    let resumed = false;
    for (;;) {
      const reply = await qmp.execute<QueryMigrate>('query-migrate');
      if (reply.status === 'completed') return reply;
      if (reply.status === 'postcopy-active') resumed = true;
      const brokeAgain = reply.status === 'failed' || (resumed && reply.status === 'postcopy-paused');
      const stalled = stall?.stalled(reply.ram?.transferred ?? 0, Date.now()) ?? false;
      if (brokeAgain || stalled || (!resumed && Date.now() > deadline)) {
        await pausePostcopy(qmp);
        const why = brokeAgain
          ? `it broke again (${reply['error-desc'] ?? failure() ?? reply.status})`
          : stalled
            ? 'it moved no data'
            : `it did not resume within ${SETTLE_TIMEOUT_MS / 1000} s${failure() ? ` (${failure()})` : ''}`;
        throw new VmigError(
          'NEEDS_RECOVERY',
          `the resumed post-copy stream of ${where}: ${why}; both sides stay paused in post-copy`,
        );
      }
      await qmp.waitForEvent((event) => event.event === 'MIGRATION', 500).catch(() => undefined);
    }
  }

  return {
    /** Destination: listen for the resumed stream on a fresh cookie. */
    async 'recover.postcopy-listen'(options) {
      const recovery = await open(options.name);
      const instance = await pausedInstance(options.name);
      if (!instance.incomingMigrationId)
        throw new VmigError(
          'NEEDS_RECOVERY',
          `${options.name} on ${context.host} is not the receiving side of a migration`,
        );
      const config = await loadHostConfig();
      if (recovery.incoming) await closeEnds(recovery.incoming);
      // Left behind by the broken stream's listener; QEMU must be able to bind it again.
      await unlinkIfPresent(join(instance.paths.dir, 'in.sock'));
      const { cookie, ends } = await openIncoming({
        transport: options.transport,
        migrationId: randomUUID(),
        qmp: recovery.qmp,
        instanceDir: instance.paths.dir,
        listenHost: options.listenAddress ?? config.migration_address ?? context.arrivalAddress ?? '127.0.0.1',
        portRange: options.portRange ?? config.migration_ports ?? DEFAULT_PORT_RANGE,
        log: context.log,
        command: 'migrate-recover',
      });
      recovery.incoming = ends;
      context.log(`recovering the post-copy of ${options.name}: listening over ${options.transport}`);
      return { cookie };
    },

    /**
     * Source, tunnelled transports: open the tunnel end before QEMU connects (ssh: for the relay to attach; ssh
     * p2p: this host's own ssh carries the stream, so there is nothing for the controller to relay).
     */
    async 'recover.postcopy-tunnel'({ name, cookie, p2p }) {
      const recovery = await open(name);
      const instance = await pausedInstance(name);
      await recovery.outgoing?.end.close().catch(() => undefined);
      const sshConfig = p2p ? (await loadHostConfig()).p2p_ssh_config : undefined;
      recovery.outgoing = await openOutgoing(
        cookie,
        instance.paths.dir,
        context.log,
        p2p ? { target: p2p, sourceLabel: context.host, ...(sshConfig ? { sshConfig } : {}) } : undefined,
      );
      return { sockets: p2p ? [] : recovery.outgoing.sockets };
    },

    /** Source: send the pages the destination still lacks, until QEMU reports the migration completed. */
    async 'recover.postcopy-resume'({ name, cookie, stallTimeoutMs }) {
      const recovery = await open(name);
      const uri = cookie.transport === 'direct' ? directOutgoingUri(cookie) : recovery.outgoing?.uri;
      if (!uri) throw new VmigError('INTERNAL', `no ${cookie.transport} tunnel was opened to resume ${name}`);
      await recovery.qmp.execute('migrate', { uri, resume: true });
      try {
        await waitForCompletion(recovery.qmp, `${name} from ${context.host}`, new StallDetector(stallTimeoutMs), () =>
          recovery.outgoing?.failure(),
        );
      } finally {
        await close(name);
      }
      return { name };
    },

    /** Destination: every page arrived; run the guest (if it is not running yet) as a normal domain. */
    async 'recover.postcopy-finish'({ name }) {
      // The listener's connection, not a new one: opening afresh would pause the stream that now runs again.
      const recovery = recoveries.get(name);
      if (!recovery)
        throw new VmigError('INTERNAL', `no post-copy recovery of ${name} is listening on ${context.host}`);
      try {
        await waitForCompletion(recovery.qmp, `${name} into ${context.host}`, undefined, () => undefined);
        const status = await recovery.qmp.execute<{ status: string }>('query-status');
        if (status.status !== 'running') await recovery.qmp.execute('cont');
      } finally {
        await close(name);
      }
      const instance = await pausedInstance(name);
      await instances.update(instance, { incomingMigrationId: undefined });
      await context.locks.clearStale(name);
      const latest = (await context.journal.all())
        .filter((entry) => entry.domain === name)
        .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt))
        .at(-1);
      if (latest) await journalPhase(context, latest, 'finished', 'vmig recover: post-copy resumed and completed');
      return { name, state: 'running' as const };
    },
  };
}
