// Which streams a destination still takes: exactly the expected set, each id once. Pure; the listeners ask it
// before (offer) and after (claim) a connection has proven its key, and stop listening once it is complete.
import type { StreamId } from './streams.js';

export type Offer = { ok: true } | { ok: false; reason: string };
export type Claim = { ok: true; complete: boolean } | { ok: false; reason: string };

export class AcceptanceSet {
  private readonly accepted = new Set<StreamId>();
  private readonly expected: ReadonlySet<StreamId>;

  constructor(expected: readonly StreamId[]) {
    this.expected = new Set(expected);
  }

  /** Whether a connection naming `id` may go on proving itself; nothing is reserved. */
  offer(id: StreamId): Offer {
    if (!this.expected.has(id)) return { ok: false, reason: `${id} is not a stream of this migration` };
    if (this.accepted.has(id)) return { ok: false, reason: `stream ${id} was already accepted` };
    return { ok: true };
  }

  /** A proven connection becomes stream `id`, unless another one already did. */
  claim(id: StreamId): Claim {
    const offer = this.offer(id);
    if (!offer.ok) return offer;
    this.accepted.add(id);
    return { ok: true, complete: this.complete };
  }

  get complete(): boolean {
    return this.accepted.size === this.expected.size;
  }

  pending(): StreamId[] {
    return [...this.expected].filter((id) => !this.accepted.has(id));
  }
}
