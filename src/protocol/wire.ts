// The records controller and agent exchange, as zod schemas: the one definition both ends type against.
// The agent produces them, the controller validates them on arrival (see methods.ts); the CLI renders them.
import { z } from 'zod';

export const DOMAIN_STATES = ['running', 'paused', 'incoming', 'migrating', 'shut off', 'unknown'] as const;
export const domainStateSchema = z.enum(DOMAIN_STATES);
export type DomainState = z.infer<typeof domainStateSchema>;

export const domainSummarySchema = z.object({
  name: z.string(),
  uuid: z.string(),
  state: domainStateSchema,
  persistent: z.boolean(),
  /** Why the state is unknown (a QEMU that did not answer in time). */
  problem: z.string().optional(),
});
export type DomainSummary = z.infer<typeof domainSummarySchema>;

export const domainInfoSchema = domainSummarySchema.extend({
  memoryMiB: z.number(),
  vcpus: z.number(),
  machine: z.string(),
  accel: z.string(),
  pid: z.number().int().optional(),
  startedAt: z.string().optional(),
  qemuStatus: z.string().optional(),
});
export type DomainInfo = z.infer<typeof domainInfoSchema>;

export const hostInfoSchema = z.object({
  host: z.string(),
  memTotalBytes: z.number(),
  memAvailableBytes: z.number(),
  memoryHeadroomMiB: z.number(),
  /** The limits Prepare enforces (host.toml), so that a planner (evacuate) can respect them up front. */
  guestMemoryLimitMiB: z.number().optional(),
  guests: z.array(z.object({ name: z.string(), memoryMiB: z.number() })),
});
export type HostInfo = z.infer<typeof hostInfoSchema>;

export const diskCopyProgressSchema = z.object({
  target: z.string(),
  copiedBytes: z.number(),
  totalBytes: z.number(),
  ready: z.boolean(),
});

/** QEMU's query-migrate turned into vmig's record (src/qemu/migration-stats.ts computes it). */
export const migrationProgressSchema = z.object({
  status: z.string(),
  pass: z.number(),
  transferredBytes: z.number(),
  remainingBytes: z.number(),
  totalBytes: z.number(),
  throughputBps: z.number(),
  dirtyRateBps: z.number(),
  expectedDowntimeMs: z.number().optional(),
  elapsedMs: z.number(),
  /** Copied disks (storage migration); status "disks" while they copy before memory. */
  disks: z.array(diskCopyProgressSchema).optional(),
});

export const migrationOutcomeSchema = z.object({
  totalTimeMs: z.number(),
  downtimeMs: z.number(),
  setupTimeMs: z.number(),
  transferredBytes: z.number(),
  totalBytes: z.number(),
  passes: z.number(),
  throughputBps: z.number(),
  sourceStopAt: z.number().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  disks: z.array(diskCopyProgressSchema).optional(),
  diskCopyMs: z.number().optional(),
});

export const lockHolderSchema = z.object({
  migrationId: z.string(),
  controller: z.string(),
  startedAt: z.string(),
  agentPid: z.number().int(),
});
export type LockHolder = z.infer<typeof lockHolderSchema>;

export const jobInfoSchema = z.object({
  name: z.string(),
  /** Whether a migration job of this domain is running on this host. */
  active: z.boolean(),
  job: lockHolderSchema.extend({ phase: z.string() }).optional(),
  /** QEMU's view of the stream (stale from an earlier migration when no job is active). */
  progress: migrationProgressSchema.optional(),
  /** Storage migration: vmig's disk mirrors on this QEMU, bytes copied per disk. */
  disks: z.array(diskCopyProgressSchema).optional(),
  parameters: z.object({ maxBandwidthBps: z.number(), downtimeLimitMs: z.number() }).optional(),
});
export type JobInfo = z.infer<typeof jobInfoSchema>;

export const journalEntrySchema = z.object({
  migrationId: z.string(),
  role: z.enum(['source', 'destination']),
  domain: z.string(),
  peer: z.string(),
  phase: z.string(),
  updatedAt: z.string(),
  detail: z.string().optional(),
});

/** What one host holds of a guest, for `vmig recover` (the decision is src/controller/recovery.ts). */
export const hostViewSchema = z.object({
  host: z.string(),
  instance: z
    .object({
      qemuStatus: z.string(),
      incomingMigrationId: z.string().optional(),
      /** Whether the agent that prepared this incoming QEMU still lives (and so still owns it). */
      ownerAlive: z.boolean(),
      /** QEMU's migration status on this side ("completed" on a destination that holds the full state). */
      migrationStatus: z.string(),
      /** vmig disk mirrors still running on this QEMU (storage migration whose agent is gone). */
      diskJobs: z.array(z.string()).optional(),
      /** Images created here for this incoming guest: removed with it if it never took over. */
      createdImages: z.array(z.string()).optional(),
    })
    .optional(),
  journal: journalEntrySchema.optional(),
  lock: z
    .object({ migrationId: z.string(), controller: z.string(), startedAt: z.string(), alive: z.boolean() })
    .optional(),
});
export type HostView = z.infer<typeof hostViewSchema>;

export const probeOutcomeSchema = z.union([
  z.object({ reachable: z.literal(true) }),
  z.object({ reachable: z.literal(false), reason: z.string() }),
]);
export type ProbeOutcome = z.infer<typeof probeOutcomeSchema>;
