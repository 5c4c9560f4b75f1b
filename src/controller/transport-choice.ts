// Which data plane a migration uses, from the operator's flags, the configured default and the source's probe.
// Pure: no sockets, no agents; the driver gathers the inputs and acts on the answer.
import { VmigError } from '../errors.js';
import {
  hostForUri,
  TRANSPORT_REQUESTS,
  type Endpoint,
  type TransportName,
  type TransportRequest,
} from '../transports/cookie.js';

export interface TransportFlags {
  /** --transport */
  transport?: string;
  /** --direct */
  direct?: boolean;
  /** --tunnelled */
  tunnelled?: boolean;
  /** The config file's `transport` for this destination; absent means auto. */
  configured?: string;
}

export interface TransportIntent {
  request: TransportRequest;
  /** Why, in words for the operator. */
  reason: string;
}

const isRequest = (value: string): value is TransportRequest =>
  (TRANSPORT_REQUESTS as readonly string[]).includes(value);

/** The transport the operator asked for. Conflicting flags are a usage error, never a silent pick. */
export function requestedTransport(flags: TransportFlags): TransportIntent {
  const given = flags.transport;
  if (given !== undefined && !isRequest(given))
    throw new VmigError('USAGE', `--transport takes ${TRANSPORT_REQUESTS.join(', ')}, not "${given}"`);
  if (flags.direct && flags.tunnelled)
    throw new VmigError('USAGE', '--direct and --tunnelled contradict each other: give one');
  if (flags.direct && given !== undefined && given !== 'direct')
    throw new VmigError('USAGE', `--direct contradicts --transport ${given}: give one`);
  if (flags.tunnelled && given === 'direct')
    throw new VmigError('USAGE', '--tunnelled contradicts --transport direct: give one');
  if (flags.direct) return { request: 'direct', reason: '--direct was given' };
  if (given !== undefined) return { request: given, reason: `--transport ${given} was given` };
  if (flags.tunnelled) return { request: 'auto', reason: '--tunnelled' };
  if (flags.configured !== undefined && flags.configured !== '') {
    if (!isRequest(flags.configured))
      throw new VmigError(
        'BAD_CONFIG',
        `the config file's transport must be one of ${TRANSPORT_REQUESTS.join(', ')}, not "${flags.configured}"`,
      );
    return { request: flags.configured, reason: `the config file sets transport = "${flags.configured}"` };
  }
  return { request: 'auto', reason: 'encrypted by default' };
}

export type ProbeOutcome = { reachable: true } | { reachable: false; reason: string };

export interface TransportDecision {
  transport: TransportName;
  encrypted: boolean;
  reason: string;
}

/**
 * The transport to use once the destination is prepared. For `auto`: TLS when the source reached the TLS
 * endpoint, else the SSH relay, which needs no port between the hosts.
 */
export function chooseTransport(
  intent: TransportIntent,
  endpoint: Endpoint | undefined,
  probe: ProbeOutcome | undefined,
): TransportDecision {
  if (intent.request !== 'auto')
    return { transport: intent.request, encrypted: intent.request !== 'direct', reason: intent.reason };
  if (!endpoint)
    return {
      transport: 'ssh',
      encrypted: true,
      reason: `${intent.reason}; the destination opened no TLS listener, so the stream is relayed over the SSH connections`,
    };
  const where = `${hostForUri(endpoint.host)}:${endpoint.port}`;
  if (probe?.reachable)
    return {
      transport: 'tls',
      encrypted: true,
      reason: `${intent.reason}; the source reaches the destination's TLS endpoint ${where}`,
    };
  const why = probe ? probe.reason : 'the source was not asked';
  return {
    transport: 'ssh',
    encrypted: true,
    reason: `${intent.reason}; the source cannot reach the destination's TLS endpoint ${where} (${why}), so the stream is relayed over the SSH connections`,
  };
}

/** `--migrate-uri tcp:HOST[:PORT]` (also tcp://…, IPv6 in brackets): the address, and maybe the port, the destination listens on and advertises. */
export function parseMigrateUri(value: string): { host: string; port?: number } {
  const match = /^tcp:(?:\/\/)?(?:\[([0-9A-Fa-f:.]+)\]|([^\s:/[\]]+))(?::(\d{1,5}))?\/?$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? undefined : Number(match[3]);
  if (!match || !host || (port !== undefined && (port < 1 || port > 65535))) {
    throw new VmigError('USAGE', `--migrate-uri takes tcp:HOST[:PORT] (IPv6 as tcp:[ADDR]:PORT), not "${value}"`);
  }
  return port === undefined ? { host } : { host, port };
}
