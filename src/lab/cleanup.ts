/**
 * Last-resort cleanup of live labs when the process ends without calling
 * destroy() (uncaught error, Ctrl-C, a test runner killing its worker).
 * 'exit' handlers must be synchronous, so this path SIGKILLs everything in
 * the lab namespaces and deletes them with execFileSync - best effort.
 * A SIGKILLed process cannot run this; sweepStaleLabs() covers that case
 * on the next Lab.create().
 */
export interface SyncDestroyable {
  destroySync(): void;
}

const live = new Set<SyncDestroyable>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function destroyAllSync(): void {
  for (const lab of [...live]) {
    try {
      lab.destroySync();
    } catch {
      /* keep going: other labs still need cleaning */
    }
  }
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  destroyAllSync();
  uninstall();
  // Having a listener disabled the default action (terminate). Restore it
  // unless someone else (e.g. the test runner) also handles the signal.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

const handlers = new Map<NodeJS.Signals, () => void>(SIGNALS.map((s) => [s, () => onSignal(s)]));

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', destroyAllSync);
  for (const [s, h] of handlers) process.on(s, h);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('exit', destroyAllSync);
  for (const [s, h] of handlers) process.removeListener(s, h);
}

export function registerLab(lab: SyncDestroyable): void {
  live.add(lab);
  install();
}

export function unregisterLab(lab: SyncDestroyable): void {
  live.delete(lab);
  // Do not leave signal handlers behind: they change how Ctrl-C behaves.
  if (live.size === 0) uninstall();
}
