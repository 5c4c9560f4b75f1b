import { describe, expect, it } from 'vitest';
import { afterFinishFailure, afterPerformFailure, connectionLost } from '../../../src/controller/way-back.js';
import { VmigError } from '../../../src/errors.js';

const failed = new VmigError('MIGRATION_FAILED', 'the migration stream of web1 failed: Broken pipe');
const aborted = new VmigError('MIGRATION_ABORTED', 'the migration of web1 was cancelled');
const linkGone = new VmigError('AGENT_FAILED', 'connection to h1 closed');
const split = new VmigError('NEEDS_RECOVERY', 'the post-copy stream of web1 broke');

describe('afterPerformFailure', () => {
  it('rolls back to the source before the switch-over, keeping an abort an abort', () => {
    expect(afterPerformFailure(failed, false)).toEqual({ kind: 'roll-back', code: 'MIGRATION_FAILED' });
    expect(afterPerformFailure(aborted, false)).toEqual({ kind: 'roll-back', code: 'MIGRATION_ABORTED' });
  });

  it('never resumes the source or removes the destination once post-copy began', () => {
    for (const error of [failed, aborted, linkGone, new Error('boom')])
      expect(afterPerformFailure(error, true)).toEqual({ kind: 'hold-both' });
    expect(afterPerformFailure(split, false)).toEqual({ kind: 'hold-both' });
  });

  it('reports a lost source link as unknown: its agent cancels alone', () => {
    expect(afterPerformFailure(linkGone, false)).toEqual({ kind: 'source-lost' });
    expect(afterPerformFailure(new VmigError('PROTOCOL_MISMATCH', 'h1 spoke nonsense'), false)).toEqual({
      kind: 'source-lost',
    });
    // Not a VmigError: an unexpected failure of the link, not a statement by the agent.
    expect(afterPerformFailure(new Error('EPIPE'), false)).toEqual({ kind: 'source-lost' });
  });
});

describe('afterFinishFailure', () => {
  it('holds the destination after post-copy, whatever failed', () => {
    expect(afterFinishFailure(failed, true)).toEqual({ kind: 'destination-holds' });
    expect(afterFinishFailure(linkGone, true)).toEqual({ kind: 'destination-holds' });
  });

  it('never guesses when the destination link broke: it may have resumed', () => {
    expect(afterFinishFailure(linkGone, false)).toEqual({ kind: 'outcome-unknown' });
  });

  it('resumes the source when the destination said it could not take over', () => {
    expect(afterFinishFailure(failed, false)).toEqual({ kind: 'resume-source' });
  });

  it("tells a broken link from an agent's refusal", () => {
    expect(connectionLost(linkGone)).toBe(true);
    expect(connectionLost(failed)).toBe(false);
  });
});
