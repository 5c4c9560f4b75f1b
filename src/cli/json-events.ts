// The `vmig migrate --json` event stream: one JSON object per line on stdout, the last one always a result.
// This is the one definition of that contract; README ("JSON output") and the man page (JSON OUTPUT) describe
// it, the e2e suite validates a real migration's stdout against it. Add a field here before emitting it.
import { z } from 'zod';
import { STEPS } from '../protocol/phases.js';

const time = z.string().datetime();
const bytes = z.number().int().min(0);
const ms = z.number().min(0);

/** The `phase` of a phase event: the controller's steps (src/protocol/phases.ts). */
export const PHASES = STEPS;
export const RESULT_STATUSES = ['completed', 'failed', 'needs-recovery'] as const;

export const startEvent = z.strictObject({
  type: z.literal('start'),
  time,
  domain: z.string(),
  source: z.string(),
  destination: z.string(),
  /** The transport asked for ("auto" until the hosts are known). */
  transport: z.string(),
  encrypted: z.boolean().optional(),
});

export const phaseEvent = z.strictObject({
  type: z.literal('phase'),
  time,
  phase: z.enum(PHASES),
  detail: z.string(),
});

const diskProgress = z.strictObject({ target: z.string(), copiedBytes: bytes, totalBytes: bytes, ready: z.boolean() });

export const progressEvent = z.strictObject({
  type: z.literal('progress'),
  time,
  migrationId: z.string().optional(),
  /** QEMU's migration status: setup, active, pre-switchover, device … */
  status: z.string(),
  /** 1 = the bulk copy; later passes re-send what the guest dirtied meanwhile. */
  pass: z.number().int().min(0),
  transferredBytes: bytes,
  /** Left in the current pass: it can grow between passes, so it is no percentage of anything. */
  remainingBytes: bytes,
  totalBytes: bytes,
  throughputBps: bytes,
  dirtyRateBps: bytes,
  /** QEMU's estimate once it has measured a pass. */
  expectedDowntimeMs: ms.optional(),
  elapsedMs: ms,
  /** Storage migration: per copied disk, bytes mirrored so far (status "disks" while the disks copy before memory). */
  disks: z.array(diskProgress).optional(),
});

export const warningEvent = z.strictObject({
  type: z.literal('warning'),
  time,
  message: z.string(),
});

export const resultEvent = z
  .strictObject({
    type: z.literal('result'),
    time,
    status: z.enum(RESULT_STATUSES),
    migrationId: z.string().optional(),
    domain: z.string(),
    source: z.string(),
    destination: z.string(),
    /** The transport the bytes actually took. */
    transport: z.string(),
    encrypted: z.boolean(),
    /** running or paused (--suspend), on the destination. */
    state: z.enum(['running', 'paused']).optional(),
    totalTimeMs: ms,
    /** QEMU's own measure of the stream, from setup to completion. */
    qemuTotalTimeMs: ms.optional(),
    downtimeMs: ms.optional(),
    transferredBytes: bytes.optional(),
    passes: z.number().int().min(0).optional(),
    /** Epoch ms of QEMU's STOP event on the source and RESUME on the destination, when seen. */
    sourceStopAt: z.number().optional(),
    destinationResumeAt: z.number().optional(),
    /** Storage migration: bytes mirrored per copied disk, and the time the disks took before memory followed. */
    disks: z.array(diskProgress).optional(),
    diskCopyMs: ms.optional(),
    /** With --verbose: per-phase wall time, and the QEMU migration parameters the source used. */
    phaseTimingsMs: z.record(z.string(), ms).optional(),
    qemuParameters: z.record(z.string(), z.unknown()).optional(),
    error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  })
  .superRefine((event, context) => {
    if (event.status === 'completed' && (event.downtimeMs === undefined || event.transferredBytes === undefined)) {
      context.addIssue({ code: 'custom', message: 'a completed result carries downtimeMs and transferredBytes' });
    }
    if ((event.status === 'completed') === (event.error !== undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['error'],
        message: 'error is present exactly when the migration did not complete',
      });
    }
  });

export const jsonEvent = z.discriminatedUnion('type', [
  startEvent,
  phaseEvent,
  progressEvent,
  warningEvent,
  resultEvent,
]);

export type StartEvent = z.infer<typeof startEvent>;
export type PhaseEvent = z.infer<typeof phaseEvent>;
export type ProgressEvent = z.infer<typeof progressEvent>;
export type WarningEvent = z.infer<typeof warningEvent>;
export type ResultEvent = z.infer<typeof resultEvent>;
export type JsonEvent = z.infer<typeof jsonEvent>;

/** Validates a whole --json stdout: every line an event, exactly one result, and it is the last line. */
export function parseEventStream(stdout: string): JsonEvent[] {
  const lines = stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const events = lines.map((line, index) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`line ${index + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    const parsed = jsonEvent.safeParse(value);
    if (!parsed.success)
      throw new Error(
        `line ${index + 1} does not match the schema: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
      );
    return parsed.data;
  });
  const results = events.filter((event) => event.type === 'result');
  if (results.length !== 1 || events.at(-1)?.type !== 'result')
    throw new Error('the stream must end with exactly one result event');
  if (events[0]?.type !== 'start') throw new Error('the stream must begin with a start event');
  return events;
}
