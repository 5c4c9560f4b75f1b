// Where a migration stands: one vocabulary for both ends (libvirt's qemuMigrationJobPhase is the model).
// Each agent holds its half of a migration in one of PHASES, journals every change (src/agent/journal.ts,
// read back by domjobinfo, domjobabort and vmig recover) through one transition() (src/agent/migration-state.ts).
// The controller drives STEPS through one transition() (src/controller/steps.ts) that sets, records and reports
// them (`vmig migrate --json` phase events, the progress display).
// Journal files store these names as they are; they are the names wave 1 wrote, so older journals read back.

/** The controller's steps, in order, plus the way back. */
export const STEPS = ['begin', 'prepare', 'perform', 'finish', 'confirm', 'rollback'] as const;
export type MigrationStep = (typeof STEPS)[number];

interface StepInfo {
  /** The steps the driver may go to from this one; every step may also repeat, to report more detail. */
  next: readonly MigrationStep[];
  /** The switch-over has begun: Ctrl-C no longer cancels, the hosts must settle who runs the guest. */
  switchingOver: boolean;
}

/** The controller's step machine (src/controller/steps.ts walks it). Post-copy enters `finish` while `perform` runs. */
export const STEP_INFO = {
  begin: { next: ['prepare'], switchingOver: false },
  prepare: { next: ['perform', 'rollback'], switchingOver: false },
  perform: { next: ['finish', 'rollback'], switchingOver: false },
  finish: { next: ['confirm', 'rollback'], switchingOver: true },
  confirm: { next: [], switchingOver: true },
  rollback: { next: [], switchingOver: false },
} as const satisfies Record<MigrationStep, StepInfo>;

/** Whether the driver may go from `from` (undefined: nothing reported yet, only `begin` may come) to `to`. */
export function stepAllowed(from: MigrationStep | undefined, to: MigrationStep): boolean {
  if (from === undefined) return to === 'begin';
  return from === to || (STEP_INFO[from].next as readonly MigrationStep[]).includes(to);
}

interface PhaseInfo {
  /** The side whose half of the migration can be in this phase. */
  role: 'source' | 'destination' | 'either';
  /** This host's half is over: nothing more will happen to it. */
  final: boolean;
  /** The whole guest reached the destination (or post-copy runs it there): the stream can no longer be cancelled. */
  sent: boolean;
}

export const PHASES = {
  /** Begin done: domain checked, definition exported, per-domain lock taken. */
  begun: { role: 'source', final: false, sent: false },
  /** Prepare done: the receiving QEMU runs paused, the endpoint listens, the cookie is minted. */
  prepared: { role: 'destination', final: false, sent: false },
  /** Perform: the stream runs. */
  performing: { role: 'source', final: false, sent: false },
  /** The stream completed: the destination holds the whole guest; the source only waits for Finish. */
  completed: { role: 'source', final: false, sent: true },
  /** Finish done: the destination runs (or holds, with --suspend) the guest. */
  finished: { role: 'destination', final: true, sent: true },
  /** Confirm done: the source QEMU is retired. */
  confirmed: { role: 'source', final: true, sent: true },
  /** Rolled back before the stream completed: the guest stays on the source. */
  cancelled: { role: 'source', final: true, sent: false },
  /** The receiving QEMU was removed. */
  aborted: { role: 'destination', final: true, sent: false },
  /** The destination could not take over; the source runs the guest again. */
  resumed: { role: 'source', final: true, sent: false },
  /** The controller vanished past the point of no return: held paused for `vmig recover`. */
  held: { role: 'either', final: false, sent: true },
} as const satisfies Record<string, PhaseInfo>;

export type MigrationPhase = keyof typeof PHASES;

/** A phase read from a journal file; undefined for a name this version does not know (a newer agent's). */
export function phaseInfo(phase: string): PhaseInfo | undefined {
  return Object.hasOwn(PHASES, phase) ? PHASES[phase as MigrationPhase] : undefined;
}
