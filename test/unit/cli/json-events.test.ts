import { describe, expect, it } from 'vitest';
import { jsonEvent, parseEventStream } from '../../../src/cli/json-events.js';

const time = '2025-01-01T00:00:00.000Z';
const start = { type: 'start', time, domain: 'g1', source: 'h1', destination: 'h2', transport: 'direct' };
const completed = {
  type: 'result',
  time,
  status: 'completed',
  domain: 'g1',
  source: 'h1',
  destination: 'h2',
  transport: 'direct',
  encrypted: false,
  totalTimeMs: 900,
  downtimeMs: 12,
  transferredBytes: 1024,
};
const lines = (...events: unknown[]) => `${events.map((event) => JSON.stringify(event)).join('\n')}\n`;

describe('the --json event schema', () => {
  it('accepts a well-formed stream ending in a result', () => {
    const events = parseEventStream(
      lines(
        start,
        { type: 'warning', time, message: 'unencrypted' },
        { type: 'phase', time, phase: 'perform', detail: 'copying' },
        {
          type: 'progress',
          time,
          migrationId: 'm',
          status: 'active',
          pass: 1,
          transferredBytes: 1,
          remainingBytes: 2,
          totalBytes: 3,
          throughputBps: 4,
          dirtyRateBps: 0,
          elapsedMs: 5,
        },
        completed,
      ),
    );
    expect(events.map((event) => event.type)).toEqual(['start', 'warning', 'phase', 'progress', 'result']);
  });

  it('refuses unknown fields, a result in the middle, and a failure without an error', () => {
    expect(jsonEvent.safeParse({ ...start, extra: 1 }).success).toBe(false);
    expect(() => parseEventStream(lines(start, completed, { type: 'warning', time, message: 'late' }))).toThrow(
      /end with exactly one result/,
    );
    expect(() => parseEventStream(lines(start, { ...completed, status: 'failed' }))).toThrow(
      /error is present exactly when/,
    );
    expect(() =>
      parseEventStream(
        lines(start, { ...completed, status: 'failed', error: { code: 'MIGRATION_ABORTED', message: 'x' } }),
      ),
    ).not.toThrow();
    expect(() => parseEventStream(`${JSON.stringify(start)}\nnot json\n`)).toThrow(/line 2 is not JSON/);
  });
});
