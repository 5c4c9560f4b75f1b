// When QEMU says a vCPU state change happened: the wall-clock time of its QMP events (STOP, RESUME), so
// guest-visible downtime can be measured across hosts that share a clock (the lab, NTP-synced hosts).
import type { QmpEvent } from './qmp-protocol.js';
import type { QmpClient } from './qmp.js';

/** QMP's event timestamp in milliseconds since the epoch (QEMU takes it from the real-time clock). */
export const qmpEventTime = (event: QmpEvent): number | undefined =>
  event.timestamp ? event.timestamp.seconds * 1000 + event.timestamp.microseconds / 1000 : undefined;

/** Remembers the time of the latest `name` event from now on; `stop()` ends the watch. */
export function watchEventTime(qmp: QmpClient, name: string): { readonly at: number | undefined; stop(): void } {
  let at: number | undefined;
  const onEvent = (event: QmpEvent) => {
    if (event.event === name) at = qmpEventTime(event) ?? at;
  };
  qmp.on('event', onEvent);
  return {
    get at() {
      return at;
    },
    stop: () => void qmp.off('event', onEvent),
  };
}
