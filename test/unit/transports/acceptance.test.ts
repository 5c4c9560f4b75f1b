import { describe, expect, it } from 'vitest';
import { AcceptanceSet } from '../../../src/transports/acceptance.js';

describe('acceptance set', () => {
  it('takes exactly the expected streams, each once, and says when it is complete', () => {
    const set = new AcceptanceSet(['ram', 'multifd-0', 'multifd-1']);
    expect(set.offer('ram')).toEqual({ ok: true });
    // An offer reserves nothing: a handshake that fails later leaves the stream open.
    expect(set.offer('ram')).toEqual({ ok: true });
    expect(set.claim('multifd-1')).toEqual({ ok: true, complete: false });
    expect(set.claim('multifd-1')).toEqual({ ok: false, reason: 'stream multifd-1 was already accepted' });
    expect(set.offer('multifd-1')).toMatchObject({ ok: false });
    expect(set.claim('multifd-2')).toEqual({ ok: false, reason: 'multifd-2 is not a stream of this migration' });
    expect(set.claim('disk-vda')).toMatchObject({ ok: false });
    expect(set.pending()).toEqual(['ram', 'multifd-0']);
    expect(set.claim('ram')).toEqual({ ok: true, complete: false });
    expect(set.complete).toBe(false);
    expect(set.claim('multifd-0')).toEqual({ ok: true, complete: true });
    expect(set.complete).toBe(true);
    expect(set.pending()).toEqual([]);
  });
});
