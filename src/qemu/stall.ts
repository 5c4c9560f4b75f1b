// Tells a stalled stream (no byte moved for a while: a dead peer or network) from a slow one.
// Only a stall is fatal; a busy guest that converges slowly is not (a known peer bug fired on slow progress).

export class StallDetector {
  private lastBytes = -1;
  private lastChange = 0;

  constructor(private readonly timeoutMs: number) {}

  /** Feed the running byte count; true once it has not grown for `timeoutMs`. */
  stalled(transferredBytes: number, now: number): boolean {
    if (transferredBytes !== this.lastBytes) {
      this.lastBytes = transferredBytes;
      this.lastChange = now;
      return false;
    }
    return now - this.lastChange >= this.timeoutMs;
  }
}
