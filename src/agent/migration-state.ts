// The migrations this agent process is part of, so that it can act alone when its controller vanishes,
// and transition(): the one way a migration changes phase here.
import type { MigrationPhase } from '../protocol/phases.js';
import type { QmpClient } from '../qemu/qmp.js';
import type { Cookie } from '../transports/cookie.js';
import type { OutgoingSocket } from '../transports/streams.js';
import type { TunnelEnd } from '../transports/tunnel.js';
import type { Mirrors } from '../storage/mirror.js';
import type { Instance } from './instances.js';
import type { Journal, JournalEntry } from './journal.js';

export interface SourceMigration {
  role: 'source';
  migrationId: string;
  name: string;
  peer: string;
  phase: MigrationPhase;
  /**
   * Set at the switch to post-copy: the destination holds the authoritative guest from then on, so the source
   * may no longer be resumed or cancelled, though the stream (and the journal's phase) is still `performing`.
   */
  postcopy?: boolean;
  /** Whether the guest was running (not paused) when the migration began: what to restore on failure. */
  wasRunning: boolean;
  qmp?: QmpClient;
  /** The outgoing tunnel (tls, ssh) once opened: where QEMU sends its stream, and why the tunnel broke if it did. */
  tunnel?: { transport: 'tls' | 'ssh'; uri: string; sockets: OutgoingSocket[]; failure(): string | undefined };
  /** Resources of a tunnel (listeners, sockets) to close when the migration ends. */
  cleanups: Array<() => Promise<void> | void>;
  /** Storage migration: the running disk mirrors, until they completed at the switch-over or were cancelled. */
  mirrors?: Mirrors;
}

export interface DestinationMigration {
  role: 'destination';
  migrationId: string;
  name: string;
  peer: string;
  phase: MigrationPhase;
  cookie: Cookie;
  instance: Instance;
  qmp: QmpClient;
  /** The incoming tunnel listeners; with `auto` both are open until the controller picks one. */
  incoming?: Partial<Record<'tls' | 'ssh', TunnelEnd>>;
  cleanups: Array<() => Promise<void> | void>;
  /** Storage migration: images this migration created (deleted on failure, never anything else), and the exports. */
  createdImages?: string[];
  exportedDisks?: string[];
}

export type ActiveMigration = SourceMigration | DestinationMigration;

export class MigrationRegistry {
  private readonly byId = new Map<string, ActiveMigration>();

  add(migration: ActiveMigration): void {
    this.byId.set(migration.migrationId, migration);
  }

  get(migrationId: string): ActiveMigration | undefined {
    return this.byId.get(migrationId);
  }

  delete(migrationId: string): void {
    this.byId.delete(migrationId);
  }

  all(): ActiveMigration[] {
    return [...this.byId.values()];
  }
}

/** Past the point where the source may take the guest back: the stream completed, or post-copy began. */
export const pastSwitchover = (migration: SourceMigration): boolean =>
  migration.phase === 'completed' || migration.postcopy === true;

/** Sets a migration's phase, journals it (fsync'd, before anything acts on it) and logs it. */
export async function transition(
  context: { journal: Journal; log(message: string): void },
  migration: ActiveMigration,
  phase: MigrationPhase,
  detail?: string,
): Promise<void> {
  migration.phase = phase;
  await journalPhase(
    context,
    { migrationId: migration.migrationId, role: migration.role, domain: migration.name, peer: migration.peer },
    phase,
    detail,
  );
}

/**
 * The one writer of phases to the journal: records `phase` for a migration (fsync'd) and logs it. transition()
 * uses it for the migrations this process runs; `vmig recover` for one a crashed process left in the journal.
 */
export async function journalPhase(
  context: { journal: Journal; log(message: string): void },
  who: Pick<JournalEntry, 'migrationId' | 'role' | 'domain' | 'peer'>,
  phase: MigrationPhase,
  detail?: string,
): Promise<void> {
  await context.journal.record({
    migrationId: who.migrationId,
    role: who.role,
    domain: who.domain,
    peer: who.peer,
    phase,
    ...(detail ? { detail } : {}),
  });
  context.log(`migration ${who.migrationId} of ${who.domain}: ${phase}${detail ? ` (${detail})` : ''}`);
}

export async function runCleanups(migration: ActiveMigration): Promise<void> {
  const cleanups = migration.cleanups.splice(0);
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // Cleanup after a stop: errors here are expected (the peer or socket may already be gone).
    }
  }
}
