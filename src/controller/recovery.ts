// Deciding how to resolve a guest whose migration was interrupted, from what each host reports.
// Pure: the same views always give the same plan, and no plan ever leaves the guest running on two hosts.
import type { HostView } from '../protocol/wire.js';

/** `resume-postcopy` takes both hosts (a new stream from source to destination); the controller runs it. */
export type RecoveryStep = {
  host: 'source' | 'destination';
  action: 'resume' | 'retire' | 'clear-lock' | 'resume-postcopy' | 'cancel-disk-jobs';
  why: string;
};

export type RecoveryPlan =
  | { kind: 'resolved'; runsOn: 'source' | 'destination'; steps: RecoveryStep[]; summary: string }
  | { kind: 'nothing-to-do'; runsOn: 'source' | 'destination'; steps: RecoveryStep[]; summary: string }
  | { kind: 'conflict' | 'lost' | 'busy'; steps: []; summary: string };

const running = (view: HostView): boolean => view.instance?.qemuStatus === 'running';
/** A destination whose incoming stream completed holds the whole guest. */
const holdsCompleteState = (view: HostView): boolean =>
  view.instance !== undefined &&
  view.instance.incomingMigrationId !== undefined &&
  view.instance.migrationStatus === 'completed';
/** QEMU's state after an outgoing migration completed: the source's copy is still whole, just stopped. */
const stoppedAfterMigration = (view: HostView): boolean => view.instance?.qemuStatus === 'postmigrate';
/** Past the post-copy switch-over and not completed: the guest's memory is split between the two QEMUs. */
const inPostcopy = (view: HostView): boolean => view.instance?.migrationStatus.startsWith('postcopy') === true;

/** Storage migration: mirrors of an interrupted migration still running on the source are stopped (it keeps its disks). */
const diskJobSteps = (source: HostView): RecoveryStep[] =>
  source.instance?.diskJobs?.length
    ? [
        {
          host: 'source',
          action: 'cancel-disk-jobs',
          why: `disk copies of an interrupted migration (${source.instance.diskJobs.join(', ')})`,
        },
      ]
    : [];

export function planRecovery(source: HostView, destination: HostView, domain: string): RecoveryPlan {
  const busy = [source, destination].find((view) => view.lock?.alive || view.instance?.ownerAlive);
  if (busy) {
    return {
      kind: 'busy',
      steps: [],
      summary: `a migration of ${domain} is still in progress on ${busy.host}; let it finish, or abort it with vmig domjobabort`,
    };
  }
  const staleLocks: RecoveryStep[] = [source, destination].flatMap((view, index) =>
    view.lock && !view.lock.alive
      ? [
          {
            host: index === 0 ? 'source' : 'destination',
            action: 'clear-lock',
            why: `stale lock of migration ${view.lock.migrationId}`,
          } as RecoveryStep,
        ]
      : [],
  );

  // Before anything that would resume or retire one side: in post-copy neither side may go on alone.
  if (inPostcopy(source) || inPostcopy(destination)) {
    if (source.instance && destination.instance) {
      return {
        kind: 'resolved',
        runsOn: 'destination',
        steps: [
          {
            host: 'destination',
            action: 'resume-postcopy',
            why: `the post-copy stream broke: ${source.host} still holds pages that ${destination.host} lacks`,
          },
          { host: 'source', action: 'retire', why: 'every page reached the destination' },
          ...staleLocks,
        ],
        summary: `the post-copy of ${domain} resumed and completed; it runs on ${destination.host}`,
      };
    }
    const gone = source.instance ? destination.host : source.host;
    return {
      kind: 'lost',
      steps: [],
      summary: `the post-copy of ${domain} broke and its QEMU on ${gone} is gone: the guest's memory was split between both hosts and cannot be put together`,
    };
  }
  if (running(source) && running(destination)) {
    return {
      kind: 'conflict',
      steps: [],
      summary: `${domain} runs on both ${source.host} and ${destination.host}: vmig will not choose; stop one with vmig destroy`,
    };
  }
  if (running(destination)) {
    const steps: RecoveryStep[] = [
      ...(source.instance
        ? [{ host: 'source', action: 'retire', why: `${domain} already runs on ${destination.host}` } as RecoveryStep]
        : []),
      // Finish ran `cont` but was cut off before recording it: adopt the guest as a normal running domain.
      ...(destination.instance?.incomingMigrationId
        ? [{ host: 'destination', action: 'resume', why: 'record the interrupted Finish' } as RecoveryStep]
        : []),
    ];
    return {
      kind: steps.length ? 'resolved' : 'nothing-to-do',
      runsOn: 'destination',
      steps: [...steps, ...staleLocks],
      summary: `${domain} runs on ${destination.host}`,
    };
  }
  if (running(source)) {
    const steps: RecoveryStep[] = [
      ...(destination.instance
        ? [
            {
              host: 'destination',
              action: 'retire',
              why: `leftover receiving QEMU; ${domain} runs on ${source.host}`,
            } as RecoveryStep,
          ]
        : []),
      ...diskJobSteps(source),
    ];
    return {
      kind: steps.length || staleLocks.length ? 'resolved' : 'nothing-to-do',
      runsOn: 'source',
      steps: [...steps, ...staleLocks],
      summary: `${domain} runs on ${source.host}`,
    };
  }
  // Neither runs. Finish the migration when the destination holds the complete state (retire the
  // source first, so that at no instant both could run); otherwise fall back to the source.
  if (holdsCompleteState(destination)) {
    const steps: RecoveryStep[] = [
      ...(source.instance
        ? [
            {
              host: 'source',
              action: 'retire',
              why: `the stream completed; ${destination.host} holds the whole guest`,
            } as RecoveryStep,
          ]
        : []),
      { host: 'destination', action: 'resume', why: 'finish the interrupted migration' },
    ];
    return {
      kind: 'resolved',
      runsOn: 'destination',
      steps: [...steps, ...staleLocks],
      summary: `${domain} resumed on ${destination.host}`,
    };
  }
  if (source.instance) {
    const steps: RecoveryStep[] = [
      ...(destination.instance
        ? [{ host: 'destination', action: 'retire', why: 'incomplete receiving QEMU' } as RecoveryStep]
        : []),
      ...diskJobSteps(source),
      ...(stoppedAfterMigration(source)
        ? [{ host: 'source', action: 'resume', why: 'the destination never took over' } as RecoveryStep]
        : []),
    ];
    const paused = !stoppedAfterMigration(source);
    return {
      kind: steps.length || staleLocks.length ? 'resolved' : 'nothing-to-do',
      runsOn: 'source',
      steps: [...steps, ...staleLocks],
      summary: paused
        ? `${domain} is on ${source.host}, paused as it was before (not resumed by vmig)`
        : `${domain} resumed on ${source.host}`,
    };
  }
  if (destination.instance && destination.instance.incomingMigrationId === undefined) {
    // Finished but left paused (--suspend, or paused by an operator): that is a state, not a fault.
    return {
      kind: 'nothing-to-do',
      runsOn: 'destination',
      steps: staleLocks,
      summary: `${domain} is on ${destination.host}, paused`,
    };
  }
  return {
    kind: 'lost',
    steps: [],
    summary: destination.instance
      ? `${domain} exists only as an incomplete incoming copy on ${destination.host}; its source is gone`
      : `no QEMU of ${domain} on ${source.host} or ${destination.host}`,
  };
}
