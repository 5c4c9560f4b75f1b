// Evacuation placement, pure: which guest goes to which destination, and why. No I/O: the runner gathers
// the facts (host.info of every host), this decides, the runner acts. Host names are compared as exact
// strings everywhere (never as patterns); guest selection (--only/--exclude) is the only glob matching.

export interface EvacGuest {
  name: string;
  memoryMiB: number;
  /** The agent's DomainState; 'incoming' guests are still arriving and are not ours to move. */
  state: string;
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

/** The destination with the most room left that can take `guest` (ties: --to order); undefined if none. */
export function chooseDestination(
  plan: Pick<EvacuationPlan, 'ledger' | 'taken'>,
  guest: EvacGuest,
  exclude: ReadonlySet<string> = new Set(),
): { destination: string; reason: string } | undefined {
  let best: { host: string; free: number } | undefined;
  for (const [host, free] of plan.ledger) {
    if (exclude.has(host) || plan.taken.get(host)?.has(guest.name) || free < guest.memoryMiB) continue;
    if (!best || free > best.free) best = { host, free };
  }
  if (!best) return undefined;
  return {
    destination: best.host,
    reason: `${best.host} has ${describeFree(best.free)} free for guests, the most room for ${guest.memoryMiB} MiB`,
  };
}

/** Books `guest` on `destination` (the ledger counts in-flight and planned migrations alike). */
export function reserve(plan: Pick<EvacuationPlan, 'ledger' | 'taken'>, guest: EvacGuest, destination: string): void {
  plan.ledger.set(destination, (plan.ledger.get(destination) ?? 0) - guest.memoryMiB);
  plan.taken.get(destination)?.add(guest.name);
}

/** Gives back a booking whose migration failed with the guest still on the source. */
export function release(plan: Pick<EvacuationPlan, 'ledger' | 'taken'>, guest: EvacGuest, destination: string): void {
  if (!plan.ledger.has(destination)) return;
  plan.ledger.set(destination, plan.ledger.get(destination)! + guest.memoryMiB);
  plan.taken.get(destination)?.delete(guest.name);
}

/** Why no destination could take `guest`: one clause per destination, for the report. */
export function whyNoRoom(
  plan: Pick<EvacuationPlan, 'ledger' | 'taken' | 'unusable'>,
  guest: EvacGuest,
  exclude: ReadonlySet<string> = new Set(),
): string {
  const clauses: string[] = [];
  for (const [host, free] of plan.ledger) {
    if (exclude.has(host)) clauses.push(`${host} already failed`);
    else if (plan.taken.get(host)?.has(guest.name)) clauses.push(`${host} already runs a guest named ${guest.name}`);
    else clauses.push(`${host} has ${describeFree(free)} free`);
  }
  for (const [host, why] of plan.unusable) clauses.push(`${host} ${why}`);
  return `no destination has room for ${guest.memoryMiB} MiB (${clauses.join('; ') || 'no destinations'})`;
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
  const plan: EvacuationPlan = {
    placements: [],
    unplaced: [],
    skipped: [],
    ledger: new Map(),
    taken: new Map(),
    unusable: new Map(),
  };
  for (const destination of destinations) {
    if (plan.ledger.has(destination.host) || plan.unusable.has(destination.host)) continue;
    if (destination.unusable !== undefined) {
      plan.unusable.set(destination.host, destination.unusable);
      continue;
    }
    plan.ledger.set(destination.host, freeMiB(destination, options.headroomMiB));
    plan.taken.set(destination.host, new Set(destination.guests.map((guest) => guest.name)));
  }
  const candidates: EvacGuest[] = [];
  for (const guest of guests) {
    const filtered = selectedBy(guest.name, options.only, options.exclude);
    if (filtered !== undefined) plan.skipped.push({ guest, reason: filtered });
    else if (guest.state === 'incoming') plan.skipped.push({ guest, reason: 'still arriving from another migration' });
    else candidates.push(guest);
  }
  candidates.sort((a, b) => b.memoryMiB - a.memoryMiB || a.name.localeCompare(b.name));
  for (const guest of candidates) {
    const choice = chooseDestination(plan, guest);
    if (!choice) {
      plan.unplaced.push({ guest, reason: whyNoRoom(plan, guest) });
      continue;
    }
    reserve(plan, guest, choice.destination);
    plan.placements.push({ guest, ...choice });
  }
  return plan;
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
