// The agent protocol as one table: every RPC method with the schema of its params and of its result.
// The agent parses params with it before a handler runs (src/agent/handlers.ts); the controller's typed
// call() infers the result type from it and validates each result on arrival (src/protocol/table.ts).
//
// To add a method: add one row here (params and result schemas, and its deadline), then one handler of the same name in the
// agent module of its concern; tsc fails until both exist. Wire types go in wire.ts, never in src/agent/.
import { z } from 'zod';
import { convergenceSchema } from '../qemu/convergence.js';
import { cookieSchema, endpointSchema, TRANSPORT_REQUESTS } from '../transports/cookie.js';
import { PROBE_TIMEOUT_MS } from '../transports/probe.js';
import { nbdAddressSchema } from '../storage/exports.js';
import { storageExposureSchema } from '../storage/incoming.js';
import { diskCopySchema, dryStorageSchema, sourceDiskSchema } from '../storage/plan.js';
import { streamIdSchema } from '../transports/streams.js';
import { jobIdSchema, migrationIdSchema } from './ids.js';
import {
  domainInfoSchema,
  domainSummarySchema,
  hostInfoSchema,
  hostViewSchema,
  jobInfoSchema,
  migrationOutcomeSchema,
  migrationProgressSchema,
  probeOutcomeSchema,
} from './wire.js';

const empty = z.object({});
const name = z.object({ name: z.string() });
const migrationId = z.object({ migrationId: migrationIdSchema });
const jobId = z.object({ jobId: jobIdSchema });
const portRange = z.tuple([z.number().int().min(1).max(65535), z.number().int().min(1).max(65535)]);
/** The source's tunnel sockets, for the controller's ssh relay to listen on (src/transports/streams.ts). */
const tunnelSockets = z.object({ sockets: z.array(z.object({ path: z.string(), streams: z.array(streamIdSchema) })) });
const cookieResult = z.object({ cookie: cookieSchema });
const accel = z.enum(['kvm', 'tcg']);
const begunResult = z.object({
  definition: z.unknown(),
  accel,
  state: z.string(),
  persistent: z.boolean(),
  disks: z.array(sourceDiskSchema).optional(),
});
/** Where this host would listen for a migration: flags, else host.toml, else defaults (as Prepare chooses). */
const listenChoice = z.object({ portRange: portRange.optional(), listenAddress: z.string().optional() });
const listenerId = z.object({ id: z.string() });
/** ssh p2p: the source host opens SSH to the destination itself, as its own ssh config names it. */
const p2pTargetSchema = z.object({
  host: z.string().regex(/^[A-Za-z0-9_.:-]+$/),
  user: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .optional(),
  port: z.number().int().min(1).max(65535).optional(),
});

/**
 * How long the controller waits for a method's result. `rpc`: the call deadline (120 s, VMIG_RPC_TIMEOUT_MS), so
 * that an agent stuck behind a QEMU cannot hang the controller. `none`: it runs as long as the migration does,
 * under its own deadlines (stall detection, Finish's timeout). `startup`: it also waits for the agent's start-up.
 * Every row must choose (src/hosts/connection.ts callDeadlineMs() reads it).
 */
export type Deadline = 'rpc' | 'none' | 'startup';

export const methods = {
  // hello must never fail on shape: an agent of another version answers with its own words (PROTOCOL_MISMATCH).
  hello: {
    deadline: 'startup',
    params: z.object({
      protocol: z.custom<number>(),
      version: z.custom<string>(),
      label: z.custom<string>().optional(),
    }),
    result: z.object({
      protocol: z.number(),
      version: z.string(),
      hostname: z.string(),
      pid: z.number(),
      stateDir: z.string(),
      hostId: z.string(),
      qemu: z.string(),
    }),
  },
  ping: { deadline: 'rpc', params: empty, result: empty },

  // Domain lifecycle (src/agent/domains.ts).
  'domain.define': {
    deadline: 'rpc',
    params: z.object({ definition: z.unknown() }),
    result: z.object({
      name: z.string(),
      uuid: z.string(),
      updated: z.boolean(),
      warnings: z.array(z.string()).optional(),
    }),
  },
  'domain.undefine': {
    deadline: 'rpc',
    params: name,
    result: z.object({ name: z.string(), stillRunning: z.boolean() }),
  },
  'domain.start': {
    deadline: 'rpc',
    params: name.extend({ paused: z.boolean().optional() }),
    result: z.object({ name: z.string(), pid: z.number(), accel: z.string() }),
  },
  'domain.destroy': { deadline: 'rpc', params: name, result: z.object({ name: z.string() }) },
  'domain.list': {
    deadline: 'rpc',
    params: z.object({ all: z.boolean().optional() }),
    result: z.array(domainSummarySchema),
  },
  'domain.info': { deadline: 'rpc', params: name, result: domainInfoSchema },
  'domain.definition': { deadline: 'rpc', params: name, result: z.record(z.string(), z.unknown()) },
  'domain.monitor': {
    deadline: 'rpc',
    params: name.extend({ command: z.string() }),
    result: z.object({
      return: z.unknown().optional(),
      error: z.object({ class: z.string(), desc: z.string() }).optional(),
    }),
  },
  'host.info': { deadline: 'rpc', params: empty, result: hostInfoSchema },
  // Storage facts for evacuate's placement (src/agent/storage-facts.ts): read-only.
  'domain.disks': { deadline: 'rpc', params: name, result: z.object({ disks: z.array(sourceDiskSchema) }) },
  'host.disk-space': {
    deadline: 'rpc',
    params: z.object({ paths: z.array(z.string().min(1)).max(4096) }),
    result: z.object({
      spaces: z.array(
        z.object({
          path: z.string(),
          directory: z.string(),
          /** The file system's device number: paths on one device share its free space. */
          device: z.number().optional(),
          availableBytes: z.number().optional(),
          missing: z.literal(true).optional(),
        }),
      ),
    }),
  },

  // Source side of a migration (src/agent/source.ts).
  'migrate.begin': {
    deadline: 'rpc',
    params: z.object({ name: z.string(), migrationId: migrationIdSchema, controller: z.string(), peer: z.string() }),
    result: begunResult,
  },
  'migrate.perform': {
    deadline: 'none',
    params: z.object({
      migrationId: migrationIdSchema,
      cookie: cookieSchema,
      /** MiB/s; 0 means no cap beyond the link. */
      bandwidthMiBs: z.number().int().min(0).default(0),
      maxDowntimeMs: z.number().int().min(1).optional(),
      progressIntervalMs: z.number().int().min(50).max(10_000).default(500),
      /** A stream that moves no byte for this long is declared dead and cancelled (slow progress alone never is). */
      stallTimeoutMs: z.number().int().min(1_000).default(30_000),
      convergence: convergenceSchema,
      /** Storage migration: the disks to mirror before memory, and where the destination exports them on TCP (direct). */
      storage: z
        .object({
          copies: z.array(diskCopySchema).min(1),
          synchronousWrites: z.boolean().default(false),
          nbd: nbdAddressSchema.optional(),
        })
        .optional(),
    }),
    result: migrationOutcomeSchema,
  },
  'migrate.tunnel': {
    deadline: 'rpc',
    params: migrationId.extend({
      cookie: cookieSchema,
      p2p: p2pTargetSchema.optional(),
    }),
    result: tunnelSockets,
  },
  'migrate.probe': {
    deadline: 'rpc',
    params: migrationId.extend({
      endpoint: endpointSchema,
      timeoutMs: z.number().int().min(100).max(30_000).default(PROBE_TIMEOUT_MS),
    }),
    result: probeOutcomeSchema,
  },
  'migrate.cancel': {
    deadline: 'rpc',
    params: migrationId,
    result: z.object({ name: z.string(), state: z.literal('running') }),
  },
  'migrate.resume': { deadline: 'rpc', params: migrationId, result: z.object({ name: z.string() }) },
  'migrate.confirm': {
    deadline: 'rpc',
    params: migrationId.extend({ undefineSource: z.boolean().default(false) }),
    result: z.object({ name: z.string() }),
  },
  'migrate.release': { deadline: 'rpc', params: migrationId, result: empty },

  // Destination side of a migration (src/agent/destination.ts).
  'migrate.prepare': {
    deadline: 'rpc',
    params: z.object({
      migrationId: migrationIdSchema,
      definition: z.unknown(),
      accel,
      peer: z.string(),
      transport: z.enum(TRANSPORT_REQUESTS),
      listenAddress: z.string().optional(),
      portRange: portRange.optional(),
      /** Post-copy and multifd must be enabled on both sides before the stream starts. */
      convergence: convergenceSchema,
      /** Storage migration: the images to create here and export to the source's mirrors. */
      storage: z.object({ copies: z.array(diskCopySchema).min(1) }).optional(),
      /** Run the source's definition even though one of the same name (and uuid) stored here differs. */
      forceDefinition: z.boolean().default(false),
    }),
    result: cookieResult.extend({ storage: storageExposureSchema.optional() }),
  },
  'migrate.finish': {
    deadline: 'none',
    params: migrationId.extend({
      suspend: z.boolean().default(false),
      persistent: z.boolean().default(false),
      timeoutMs: z.number().int().min(1000).default(60_000),
      /**
       * Called as soon as the source switched to post-copy: resume at once (the point of post-copy), then stay
       * until the last page arrived. No deadline for that part: the source's stall detection watches the stream.
       */
      postcopy: z.boolean().default(false),
    }),
    result: z.object({ name: z.string(), state: z.enum(['running', 'paused']), resumedAt: z.number().optional() }),
  },
  'migrate.postcopy-pause': { deadline: 'rpc', params: migrationId, result: empty },
  'migrate.select-transport': {
    deadline: 'rpc',
    params: migrationId.extend({ transport: z.enum(['tls', 'ssh']) }),
    result: empty,
  },
  'migrate.abort': { deadline: 'rpc', params: migrationId, result: z.object({ removed: z.boolean() }) },

  // `vmig migrate --dry-run`: Begin's and Prepare's checks without their effects (src/agent/dry-run.ts).
  'migrate.dry-begin': { deadline: 'rpc', params: name, result: begunResult },
  'migrate.dry-prepare': {
    deadline: 'rpc',
    params: z.object({
      definition: z.unknown(),
      accel,
      forceDefinition: z.boolean().default(false),
      /** Storage migration: the images Prepare would create here, checked and not created. */
      storage: z.object({ copies: z.array(diskCopySchema).min(1) }).optional(),
    }),
    result: z.object({
      qemu: z.string(),
      accel,
      memoryMiB: z.number(),
      headroomMiB: z.number(),
      storage: dryStorageSchema.optional(),
    }),
  },

  // `vmig host check` and the dry run's port checks (src/agent/host-checks.ts).
  'host.check': {
    deadline: 'rpc',
    params: listenChoice,
    result: z.object({
      checks: z.array(
        z.object({
          name: z.string(),
          status: z.enum(['pass', 'warn', 'fail']),
          detail: z.string(),
          fix: z.string().optional(),
        }),
      ),
      node: z.string(),
    }),
  },
  'host.listen': { deadline: 'rpc', params: listenChoice, result: listenerId.extend({ endpoint: endpointSchema }) },
  'host.listen-unix': { deadline: 'rpc', params: empty, result: listenerId.extend({ path: z.string() }) },
  'host.unlisten': { deadline: 'rpc', params: listenerId, result: empty },
  'host.probe-tcp': {
    deadline: 'rpc',
    params: z.object({ endpoint: endpointSchema, timeoutMs: z.number().int().min(100).max(10_000).optional() }),
    result: probeOutcomeSchema,
  },

  // Job control from any controller (src/agent/jobs.ts).
  'job.info': { deadline: 'rpc', params: name, result: jobInfoSchema },
  'job.abort': {
    deadline: 'rpc',
    params: name,
    result: z.object({
      name: z.string(),
      migrationId: z.string(),
      cancelled: z.boolean(),
      detail: z.string().optional(),
    }),
  },
  'job.setSpeed': {
    deadline: 'rpc',
    params: name.extend({ bandwidthMiBs: z.number().int().min(0) }),
    result: z.object({ name: z.string(), migrationId: z.string(), bandwidthMiBs: z.number() }),
  },
  'job.setMaxDowntime': {
    deadline: 'rpc',
    params: name.extend({ maxDowntimeMs: z.number().int().min(1).max(2_000_000) }),
    result: z.object({ name: z.string(), migrationId: z.string(), maxDowntimeMs: z.number() }),
  },

  // The per-source-host evacuation lock (src/agent/evacuation.ts).
  'evacuation.lock': {
    deadline: 'rpc',
    params: jobId.extend({ controller: z.string().max(255) }),
    result: z.object({ jobId: z.string() }),
  },
  'evacuation.unlock': { deadline: 'rpc', params: jobId, result: empty },
  'evacuation.abort': {
    deadline: 'rpc',
    params: z.object({ requestedBy: z.string().max(255).default('unknown') }),
    result: z.object({ jobId: z.string() }),
  },
  'evacuation.status': {
    deadline: 'rpc',
    params: jobId,
    result: z.object({ abortRequested: z.boolean(), requestedBy: z.string().optional() }),
  },

  // `vmig recover` (src/agent/recover.ts, src/agent/postcopy-recovery.ts).
  'recover.inspect': { deadline: 'rpc', params: name, result: hostViewSchema },
  'recover.apply': {
    deadline: 'none',
    params: name.extend({ action: z.enum(['resume', 'retire', 'clear-lock', 'cancel-disk-jobs']) }),
    result: z.object({ done: z.literal(true) }),
  },
  'recover.postcopy-listen': {
    deadline: 'rpc',
    params: name.extend({
      transport: z.enum(['direct', 'tls', 'ssh']),
      listenAddress: z.string().optional(),
      portRange: portRange.optional(),
    }),
    result: cookieResult,
  },
  'recover.postcopy-tunnel': {
    deadline: 'rpc',
    params: name.extend({ cookie: cookieSchema, p2p: p2pTargetSchema.optional() }),
    result: tunnelSockets,
  },
  'recover.postcopy-resume': {
    deadline: 'rpc',
    params: name.extend({ cookie: cookieSchema, stallTimeoutMs: z.number().int().min(1_000).default(30_000) }),
    result: z.object({ name: z.string() }),
  },
  'recover.postcopy-finish': {
    deadline: 'rpc',
    params: name,
    result: z.object({ name: z.string(), state: z.literal('running') }),
  },
} satisfies Record<string, { params: z.ZodType; result: z.ZodType; deadline: Deadline }>;

/** One-way messages from the agent to its controller, while a method runs. */
export const events = {
  'migration.progress': migrationProgressSchema.extend({ migrationId: z.string() }),
  'migration.warning': z.object({ migrationId: z.string(), message: z.string() }),
} satisfies Record<string, z.ZodType>;

export type Method = keyof typeof methods;
/** What a caller passes (defaults may be left out). */
export type Params<M extends Method> = z.input<(typeof methods)[M]['params']>;
/** What a handler receives, after the agent parsed and defaulted it. */
export type ParsedParams<M extends Method> = z.output<(typeof methods)[M]['params']>;
/** What a handler may return / what the caller receives. */
export type HandlerResult<M extends Method> = z.input<(typeof methods)[M]['result']>;
export type Result<M extends Method> = z.output<(typeof methods)[M]['result']>;

export type EventName = keyof typeof events;
export type EventData<E extends EventName> = z.output<(typeof events)[E]>;
