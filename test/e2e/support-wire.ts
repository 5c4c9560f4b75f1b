// What a lab host's network and processes show during a migration, as a probe or an intruder sees it: sockets
// in the migration port range, TLS clients with a key of our choosing, secrets in any process's argv or env.
import { readFile } from 'node:fs/promises';
import type { Lab, RunResult } from '../../src/lab/lab.js';
import { DEFAULT_PORT_RANGE } from '../../src/transports/ports.js';

/** A 64-hex-digit string: the shape of every cookie secret and stream key. */
export const HEX_SECRET = /(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/g;

const inMigrationRange = (port: number) => port >= DEFAULT_PORT_RANGE[0] && port <= DEFAULT_PORT_RANGE[1];

/** Every 64-hex-digit string in argv and environment of the lab's processes (all namespaces), minus those the test run itself inherited. */
export async function secretsInProcesses(lab: Lab): Promise<string[]> {
  const inherited = new Set(Object.values(process.env).flatMap((value) => value?.match(HEX_SECRET) ?? []));
  const found: string[] = [];
  for (const member of ['controller', ...Object.keys(lab.hosts)]) {
    for (const pid of await lab.pids(member)) {
      for (const file of ['cmdline', 'environ']) {
        const text = await readFile(`/proc/${pid}/${file}`, 'latin1').catch(() => '');
        for (const hex of text.match(HEX_SECRET) ?? [])
          if (!inherited.has(hex)) found.push(`${pid}/${file}: ${hex.slice(0, 8)}…`);
      }
    }
  }
  return found;
}

/** TCP sockets in the given state in a host's namespace whose local port is in the migration range. */
export async function migrationConnections(
  lab: Lab,
  host: string,
  state: 'listening' | 'established' = 'established',
): Promise<Array<{ port: number; peer: string; peerPort: number }>> {
  const result = await lab.exec(host, ['ss', '-Htn', 'state', state]);
  return result.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 4)
    .map((fields) => {
      const local = /:(\d+)$/.exec(fields[fields.length - 2]!);
      const peer = /^\[?(.*?)\]?:(\d+)$/.exec(fields[fields.length - 1]!);
      return { port: Number(local?.[1]), peer: peer?.[1] ?? '', peerPort: Number(peer?.[2]) };
    })
    .filter((connection) => inMigrationRange(connection.port));
}

/** Local ports in the migration range with a TCP socket in the given state in the host's namespace. */
export async function portsInRange(lab: Lab, host: string, state: 'listening' | 'established'): Promise<number[]> {
  return (await migrationConnections(lab, host, state)).map((connection) => connection.port);
}

/** A TLS 1.3 PSK client run in a host's namespace; the key comes on stdin, never in argv. */
const TLS_CLIENT = `
const tls = require('node:tls');
let input = '';
process.stdin.on('data', (c) => (input += c)).on('end', () => {
  const { host, port, identity, key, holdMs } = JSON.parse(input);
  const socket = tls.connect({ host, port, minVersion: 'TLSv1.3', pskCallback: () => ({ identity, psk: Buffer.from(key, 'hex') }), checkServerIdentity: () => undefined });
  // The server may still drop a completed handshake (a used cookie): held 1.5 s means accepted. Then kept open
  // for holdMs, so that the streams of one set are all open at once.
  let held = false;
  socket.once('secureConnect', () => setTimeout(() => { held = true; console.log('held'); setTimeout(() => process.exit(0), holdMs || 0); }, 1500));
  socket.once('close', () => { if (!held) console.log('closed'); process.exit(held ? 0 : 1); });
  socket.once('error', (e) => { console.log('refused ' + (e.code || e.message)); process.exit(1); });
});`;

/**
 * Connects from `from` with TLS 1.3 and a PSK; stdout says `held` (accepted), `closed` (dropped after the
 * handshake) or `refused …`; the exit code is 0 only when held.
 */
export function tlsClient(
  lab: Lab,
  from: string,
  connect: { host: string; port: number; identity: string; key: string; holdMs?: number },
  timeoutMs = 30_000,
): Promise<RunResult> {
  return lab.exec(from, [process.execPath, '-e', TLS_CLIENT], {
    input: JSON.stringify({ ...connect, holdMs: connect.holdMs ?? 0 }),
    timeoutMs,
  });
}

/** openssl's TLS 1.3 client with a PSK that proves nothing; a listener that lets it in prints `Cipher is TLS_…`. */
export function opensslWithWrongKey(
  lab: Lab,
  from: string,
  endpoint: string,
  { key = 'ab'.repeat(32), identity = 'intruder' }: { key?: string; identity?: string } = {},
): Promise<RunResult> {
  return lab.exec(
    from,
    ['timeout', '10', 'openssl', 's_client', '-tls1_3', '-psk', key, '-psk_identity', identity, '-connect', endpoint],
    { input: '' },
  );
}
