// Evacuation placement, pure: which guest goes to which destination, and why. No I/O: the runner gathers
// the facts (host.info of every host), this decides, the runner acts. Host names are compared as exact
// strings everywhere (never as patterns); guest selection (--only/--exclude) is the only glob matching.
import {
  bookDisks,
  diskObstacle,
  openDiskLedger,
  type DirectorySpace,
  type DiskLedger,
  type DiskNeed,
} from './evacuate-disks.js';

export interface EvacGuest {
  name: string;
  memoryMiB: number;
  /** The agent's DomainState; 'incoming' guests are still arriving and are not ours to move. */
  state: string;
  /** Copied disks (--copy-storage-all): what they need on each destination that would copy them. */
  diskNeeds?: Map<string, DiskNeed[]>;
}

export interface DestinationFacts {
  /** Exactly as the operator named it in --to. */
  host: string;
  /** Why it cannot be used at all (unreachable, the source itself…); undefined when usable. */
  unusable?: string;
  memAvailableMiB: number;
  /** The host's own guest_memory_limit_mib, when it sets one. */
  guestMemoryLimitMiB?: number;
  /** The host's own memory_headroom_mib. */
  hostHeadroomMiB: number;
  /** Guests it already runs (or is receiving): they count against its limit and their names are taken. */
  guests: Array<{ name: string; memoryMiB: number }>;
  /** Free space in the directories copied disks would go to (host.disk-space). */
  diskSpace?: DirectorySpace[];
}

export interface PlanOptions {
  /** Extra MiB kept free on every destination, on top of each host's own headroom. */
  headroomMiB?: number;
  only?: string[];
  exclude?: string[];
}

export interface Placement {
  guest: EvacGuest;
  destination: string;
  reason: string;
}

export interface Unplaced {
  guest: EvacGuest;
  reason: string;
}

/** The memory still free on each usable destination, net of everything planned for it (in-flight included). */
export type Ledger = Map<string, number>;

export interface EvacuationPlan {
  placements: Placement[];
  unplaced: Unplaced[];
  /** Left alone on purpose: filtered out, or not in a state to migrate. */
  skipped: Unplaced[];
  ledger: Ledger;
  /** Names already running on each destination: a guest can never go where its name is taken. */
  taken: Map<string, Set<string>>;
  /** Why each unusable destination was left out, for messages. */
  unusable: Map<string, string>;
  /** Free disk space per destination file system, net of the copies booked there. */
  disks: DiskLedger;
}

/** `*` and `?` globs over guest names, anchored. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function selectedBy(name: string, only: string[] = [], exclude: string[] = []): string | undefined {
  if (only.length > 0 && !only.some((pattern) => globToRegExp(pattern).test(name)))
    return `not matched by --only ${only.join(',')}`;
  const excluded = exclude.find((pattern) => globToRegExp(pattern).test(name));
  return excluded === undefined ? undefined : `excluded by --exclude ${excluded}`;
}

/** Free MiB for new guests: the tighter of the guest-memory limit and real available memory minus headroom. */
export function freeMiB(destination: DestinationFacts, headroomMiB = 0): number {
  const committed = destination.guests.reduce((sum, guest) => sum + guest.memoryMiB, 0);
  const byLimit =
    destination.guestMemoryLimitMiB === undefined
      ? Number.POSITIVE_INFINITY
      : destination.guestMemoryLimitMiB - committed;
  const byRam = destination.memAvailableMiB - Math.max(headroomMiB, destination.hostHeadroomMiB);
  return Math.max(0, Math.min(byLimit, byRam));
}

const describeFree = (free: number) => (Number.isFinite(free) ? `${free} MiB` : 'unlimited');

/**
 * Why `host` cannot take `guest` now, as a clause for the report; undefined when it can. Every placement
 * criterion lives here (a new one, such as free disk space, is one more check and one more fact).
 */
export function obstacle(
  plan: Pick<EvacuationPlan, 'ledger' | 'taken' | 'disks'>,
  guest: EvacGuest,
  host: string,
  exclude: ReadonlySet<string> = new Set(),
): string | undefined {
  if (exclude.has(host)) return `${host} already failed`;
  if (plan.taken.get(host)?.has(guest.name)) return `${host} already runs a guest named ${guest.name}`;
  const free = plan.ledger.get(host) ?? 0;
  if (free < guest.memoryMiB) return `${host} has ${describeFree(free)} free`;
  return diskObstacle(plan.disks, host, guest.diskNeeds?.get(host));
}

/** The destination with the most room left that can take `guest` (ties: --to order); undefined if none. */
export function chooseDestination(
  plan: Pick<EvacuationPlan, 'ledger' | 'taken' | 'disks'>,
  guest: EvacGuest,
  exclude: ReadonlySet<string> = new Set(),
): { destination: string; reason: string } | undefined {
  let best: { host: string; free: number } | undefined;
  for (const [host, free] of plan.ledger) {
    if (obstacle(plan, guest, host, exclude) !== undefined) continue;
    if (!best || free > best.free) best = { host, free };
  }
  if (!best) return undefined;
  return {
    destination: best.host,
    reason: `${best.host} has ${describeFree(best.free)} free for guests, the most room for ${guest.memoryMiB} MiB`,
  };
}

/** Books `guest` on `destination` (the ledger counts in-flight and planned migrations alike). */
export function reserve(
  plan: Pick<EvacuationPlan, 'ledger' | 'taken' | 'disks'>,
  guest: EvacGuest,
  destination: string,
): void {
  plan.ledger.set(destination, (plan.ledger.get(destination) ?? 0) - guest.memoryMiB);
  plan.taken.get(destination)?.add(guest.name);
  bookDisks(plan.disks, destination, guest.diskNeeds?.get(destination), 1);
}

/** Gives back a booking whose migration failed with the guest still on the source. */
export function release(
  plan: Pick<EvacuationPlan, 'ledger' | 'taken' | 'disks'>,
  guest: EvacGuest,
  destination: string,
): void {
  if (!plan.ledger.has(destination)) return;
  plan.ledger.set(destination, plan.ledger.get(destination)! + guest.memoryMiB);
  plan.taken.get(destination)?.delete(guest.name);
  bookDisks(plan.disks, destination, guest.diskNeeds?.get(destination), -1);
}

/** Why no destination could take `guest`: one clause per destination, for the report. */
export function whyNoRoom(
  plan: Pick<EvacuationPlan, 'ledger' | 'taken' | 'unusable' | 'disks'>,
  guest: EvacGuest,
  exclude: ReadonlySet<string> = new Set(),
): string {
  const clauses: string[] = [];
  for (const host of plan.ledger.keys()) {
    const clause = obstacle(plan, guest, host, exclude);
    if (clause !== undefined) clauses.push(clause);
  }
  for (const [host, why] of plan.unusable) clauses.push(`${host} ${why}`);
  const disks = guest.diskNeeds?.size ? ' and its copied disks' : '';
  return `no destination has room for ${guest.memoryMiB} MiB${disks} (${clauses.join('; ') || 'no destinations'})`;
}

/** The ledger of every usable destination (free memory net of its guests and headroom), and the unusable ones. */
export function openLedger(destinations: DestinationFacts[], headroomMiB?: number): EvacuationPlan {
  const plan: EvacuationPlan = {
    placements: [],
    unplaced: [],
    skipped: [],
    ledger: new Map(),
    taken: new Map(),
    unusable: new Map(),
    disks: openDiskLedger(destinations.filter((destination) => destination.unusable === undefined)),
  };
  for (const destination of destinations) {
    if (plan.ledger.has(destination.host) || plan.unusable.has(destination.host)) continue;
    if (destination.unusable !== undefined) {
      plan.unusable.set(destination.host, destination.unusable);
      continue;
    }
    plan.ledger.set(destination.host, freeMiB(destination, headroomMiB));
    plan.taken.set(destination.host, new Set(destination.guests.map((guest) => guest.name)));
  }
  return plan;
}

/** The guests to move (largest first), and those left alone with the reason (filters, still arriving). */
export function selectGuests(
  guests: EvacGuest[],
  options: Pick<PlanOptions, 'only' | 'exclude'> = {},
): { candidates: EvacGuest[]; skipped: Unplaced[] } {
  const candidates: EvacGuest[] = [];
  const skipped: Unplaced[] = [];
  for (const guest of guests) {
    const filtered = selectedBy(guest.name, options.only, options.exclude);
    if (filtered !== undefined) skipped.push({ guest, reason: filtered });
    else if (guest.state === 'incoming') skipped.push({ guest, reason: 'still arriving from another migration' });
    else candidates.push(guest);
  }
  candidates.sort((a, b) => b.memoryMiB - a.memoryMiB || a.name.localeCompare(b.name));
  return { candidates, skipped };
}

/** Places each guest, in the order given, on the destination with the most room left, booking it at once. */
export function placeGuests(plan: EvacuationPlan, guests: EvacGuest[]): void {
  for (const guest of guests) {
    const choice = chooseDestination(plan, guest);
    if (!choice) {
      plan.unplaced.push({ guest, reason: whyNoRoom(plan, guest) });
      continue;
    }
    reserve(plan, guest, choice.destination);
    plan.placements.push({ guest, ...choice });
  }
}

/**
 * Places every selected guest of the source, largest first, each on the destination with the most room
 * left (spreading the load), reserving its memory there at once so that migrations in flight can never
 * over-commit a destination.
 */
export function planEvacuation(
  guests: EvacGuest[],
  destinations: DestinationFacts[],
  options: PlanOptions = {},
): EvacuationPlan {
  const plan = openLedger(destinations, options.headroomMiB);
  const { candidates, skipped } = selectGuests(guests, options);
  plan.skipped.push(...skipped);
  placeGuests(plan, candidates);
  return plan;
}

/** What the plan event shows per --to host: its free memory after the plan, or why it is not used. */
export function destinationRows(
  plan: EvacuationPlan,
  facts: DestinationFacts[],
): Array<{ host: string; freeMiB: number | null; unusable?: string }> {
  return facts.map((fact) => ({
    host: fact.host,
    freeMiB: plan.ledger.get(fact.host) ?? null,
    ...(fact.unusable ? { unusable: fact.unusable } : {}),
  }));
}

/** An --to list the run refuses before connecting: a host named twice, or the source itself. */
export function destinationsProblem(
  source: string,
  destinations: string[],
): { code: 'USAGE' | 'SAME_HOST'; message: string } | undefined {
  const duplicate = destinations.find((host, index) => destinations.indexOf(host) !== index);
  if (duplicate !== undefined) return { code: 'USAGE', message: `--to names ${duplicate} twice` };
  if (destinations.includes(source)) return { code: 'SAME_HOST', message: `--to names the source ${source} itself` };
  return undefined;
}

/** Why an opened --to host is left out although it answered: it is the source, or another --to under a new name. */
export function sameHostProblem(hostId: string, sourceHostId: string, otherHostIds: string[]): string | undefined {
  if (hostId === sourceHostId) return 'is the source host itself';
  if (otherHostIds.includes(hostId)) return 'is the same host as another --to destination';
  return undefined;
}

/**
 * After a failure on `failedOn` (the guest still on the source): frees that booking and picks another
 * destination that fits, never one already tried. Undefined, with the reason, when none fits.
 */
export function planRetry(
  plan: EvacuationPlan,
  guest: EvacGuest,
  tried: ReadonlySet<string>,
  failedOn: string,
): { destination: string; reason: string } | { reason: string } {
  release(plan, guest, failedOn);
  const choice = chooseDestination(plan, guest, tried);
  if (!choice) return { reason: whyNoRoom(plan, guest, tried) };
  reserve(plan, guest, choice.destination);
  return choice;
}

/** A destination that went away mid-run: nothing more is placed there. */
export function markUnusable(plan: EvacuationPlan, host: string, why: string): void {
  plan.ledger.delete(host);
  plan.unusable.set(host, why);
}

/** Each guest is tried on at most this many destinations. */
export const MAX_ATTEMPTS = 2;

/** These say the guest itself cannot move now: another destination would not help. */
export const NOT_RETRYABLE: ReadonlySet<string> = new Set([
  'DOMAIN_NOT_FOUND',
  'DOMAIN_NOT_RUNNING',
  'LOCKED',
  'MIGRATION_ABORTED',
  'NEEDS_RECOVERY',
]);

/** What a failed attempt leads to. */
export type AfterFailure =
  | { kind: 'needs-recovery' }
  | { kind: 'failed'; notRetried?: string }
  | { kind: 'retry'; destination: string };

/**
 * After attempt `attempt` of `guest` failed on `failedOn` with `code`: stop there (needs recovery, out of
 * attempts, a code another host would not cure, scheduling stopped) or book another destination (planRetry).
 * A destination whose connection was lost is marked unusable first, so it is never chosen again.
 */
export function afterFailure(
  plan: EvacuationPlan,
  guest: EvacGuest,
  failure: {
    code: string;
    failedOn: string;
    attempt: number;
    tried: ReadonlySet<string>;
    lost?: string;
    stopped: boolean;
  },
): AfterFailure {
  if (failure.code === 'NEEDS_RECOVERY') return { kind: 'needs-recovery' };
  if (failure.lost !== undefined) markUnusable(plan, failure.failedOn, failure.lost);
  if (failure.attempt >= MAX_ATTEMPTS || NOT_RETRYABLE.has(failure.code) || failure.stopped) return { kind: 'failed' };
  const retry = planRetry(plan, guest, failure.tried, failure.failedOn);
  if (!('destination' in retry)) return { kind: 'failed', notRetried: retry.reason };
  return { kind: 'retry', destination: retry.destination };
}
