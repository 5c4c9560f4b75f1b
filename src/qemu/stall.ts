// Tells a stalled stream (no byte moved for a while: a dead peer or network) from a slow one.
// Only a stall is fatal; a busy guest that converges slowly is not (a known peer bug fired on slow progress).

/** When the byte count last changed, as plain data (the perform policy keeps it in its state). */
export interface StallClock {
  readonly lastBytes: number;
  readonly lastChange: number;
}
export const NEW_STALL_CLOCK: StallClock = { lastBytes: -1, lastChange: 0 };

/** Pure: feed the running byte count; stalled once it has not grown for `timeoutMs`. */
export function checkStall(
  clock: StallClock,
  transferredBytes: number,
  now: number,
  timeoutMs: number,
): { clock: StallClock; stalled: boolean } {
  if (transferredBytes !== clock.lastBytes)
    return { clock: { lastBytes: transferredBytes, lastChange: now }, stalled: false };
  return { clock, stalled: now - clock.lastChange >= timeoutMs };
}

/** checkStall() with its clock kept inside. */
export class StallDetector {
  private clock = NEW_STALL_CLOCK;

  constructor(private readonly timeoutMs: number) {}

  /** Feed the running byte count; true once it has not grown for `timeoutMs`. */
  stalled(transferredBytes: number, now: number): boolean {
    const { clock, stalled } = checkStall(this.clock, transferredBytes, now, this.timeoutMs);
    this.clock = clock;
    return stalled;
  }
}
