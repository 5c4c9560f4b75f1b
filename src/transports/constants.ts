// The transport names and the default port range, free of imports so that `vmig --help` (the options table)
// can name them without loading the transports themselves.

export const TRANSPORTS = ['direct', 'tls', 'ssh'] as const;
export type TransportName = (typeof TRANSPORTS)[number];
/** What an operator may ask for: a transport, or `auto` (TLS when the source reaches the destination, else SSH). */
export const TRANSPORT_REQUESTS = ['auto', ...TRANSPORTS] as const;
export type TransportRequest = (typeof TRANSPORT_REQUESTS)[number];

/** libvirt's default migration range; documented in README and the man page. */
export const DEFAULT_PORT_RANGE: [number, number] = [49152, 49215];
