// The one-time cookie Prepare returns: identity and key of one migration. It is minted by the destination,
// carried by the controller over its SSH channels, presented by the source, and never printed.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { migrationIdSchema } from '../protocol/ids.js';
import { checkStreamSet, streamIdSchema, type StreamId } from './streams.js';

import { TRANSPORT_REQUESTS, type TransportRequest } from './constants.js';

export { TRANSPORTS, TRANSPORT_REQUESTS, type TransportName, type TransportRequest } from './constants.js';

export const endpointSchema = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });
export type Endpoint = z.infer<typeof endpointSchema>;

export const cookieSchema = z.object({
  migrationId: migrationIdSchema,
  /** `auto` while both the TLS listener and the SSH socket are open; the controller narrows it before Perform. */
  transport: z.enum(TRANSPORT_REQUESTS),
  /** The TCP endpoint (direct, tls). */
  endpoint: endpointSchema.optional(),
  /** The destination agent's unix socket that the controller's SSH relay attaches to (ssh). */
  socketPath: z.string().min(1).max(107).optional(),
  expiresAt: z.number().int(),
  /** 256 bits, hex. Never a key itself: each stream derives its own (stream-keys.ts). */
  secret: z.string().regex(/^[0-9a-f]{64}$/),
  /** The stream set the destination accepts, each once (streams.ts). */
  streams: z
    .array(streamIdSchema)
    .min(1)
    .max(128)
    .default(['ram'])
    .refine((streams) => checkStreamSet(streams) === undefined, { message: 'not a valid stream set' }),
});
export type Cookie = z.infer<typeof cookieSchema>;

/** How long a prepared destination waits for its source before the cookie is void. */
export const COOKIE_LIFETIME_MS = 5 * 60_000;

export function mintCookie(
  migrationId: string,
  transport: TransportRequest,
  endpoint: Endpoint | undefined,
  now = Date.now(),
  streams: StreamId[] = ['ram'],
): Cookie {
  return {
    migrationId,
    transport,
    ...(endpoint ? { endpoint } : {}),
    expiresAt: now + COOKIE_LIFETIME_MS,
    secret: randomBytes(32).toString('hex'),
    streams,
  };
}

/** Constant-time comparison of two secrets. */
export function secretsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Formats an endpoint for QEMU's URIs (IPv6 literals in brackets). */
export const hostForUri = (host: string): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/** What the cookie may safely show in logs: never the secret. */
export const describeCookie = (cookie: Cookie): string =>
  `migration ${cookie.migrationId} via ${cookie.transport}${cookie.endpoint ? ` to ${hostForUri(cookie.endpoint.host)}:${cookie.endpoint.port}` : ''}`;
