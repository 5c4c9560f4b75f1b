import { describe, expect, it } from 'vitest';
import { afterPostcopyResume, beforeResume } from '../../../src/qemu/incoming-policy.js';

const precopy = { where: 'web1 on h2', postcopy: false, timeoutMs: 60_000 };
const postcopy = { ...precopy, postcopy: true };

describe('Finish before resuming', () => {
  it('is ready once the stream completed and QEMU loaded the device state', () => {
    expect(beforeResume({ migration: 'completed', run: 'paused' }, precopy, false)).toEqual({ kind: 'ready' });
    expect(beforeResume({ migration: 'completed', run: 'inmigrate' }, precopy, false)).toEqual({ kind: 'wait' });
    expect(beforeResume({ migration: 'active', run: 'inmigrate' }, precopy, false)).toEqual({ kind: 'wait' });
  });

  it('in post-copy, is ready at the switch-over, before the last page', () => {
    expect(beforeResume({ migration: 'postcopy-active', run: 'paused' }, postcopy, false)).toEqual({ kind: 'ready' });
    expect(beforeResume({ migration: 'postcopy-active', run: 'paused' }, precopy, false)).toEqual({ kind: 'wait' });
  });

  it('reports a failed stream, and a broken post-copy as needing recovery', () => {
    expect(beforeResume({ migration: 'failed', run: 'inmigrate', errorDesc: 'Broken pipe' }, precopy, false)).toEqual({
      kind: 'fail',
      code: 'MIGRATION_FAILED',
      message: 'the incoming stream of web1 on h2 failed: Broken pipe',
    });
    expect(beforeResume({ migration: 'failed', run: 'inmigrate' }, precopy, false)).toMatchObject({
      message: 'the incoming stream of web1 on h2 failed: no reason given',
    });
    expect(beforeResume({ migration: 'postcopy-paused', run: 'paused' }, postcopy, false)).toEqual({
      kind: 'fail',
      code: 'NEEDS_RECOVERY',
      message:
        "the post-copy stream into web1 on h2 broke (postcopy-paused); the guest's memory is split between both hosts",
    });
  });

  it('gives up at the deadline, as recovery in post-copy', () => {
    expect(beforeResume({ migration: 'active', run: 'inmigrate' }, precopy, true)).toEqual({
      kind: 'fail',
      code: 'MIGRATION_FAILED',
      message: 'the incoming stream of web1 on h2 did not complete within 60000 ms',
    });
    expect(beforeResume({ migration: 'active', run: 'inmigrate' }, postcopy, true)).toMatchObject({
      code: 'NEEDS_RECOVERY',
      message: expect.stringContaining('did not switch to post-copy'),
    });
  });
});

describe('Finish after resuming in post-copy', () => {
  it('waits for the last page, and reports a stream that breaks', () => {
    expect(afterPostcopyResume({ migration: 'postcopy-active', run: 'running' }, postcopy)).toEqual({ kind: 'wait' });
    expect(afterPostcopyResume({ migration: 'completed', run: 'running' }, postcopy)).toEqual({ kind: 'ready' });
    expect(
      afterPostcopyResume({ migration: 'postcopy-paused', run: 'running', errorDesc: 'Connection reset' }, postcopy),
    ).toMatchObject({ kind: 'fail', code: 'NEEDS_RECOVERY', message: expect.stringContaining('(Connection reset)') });
  });
});
