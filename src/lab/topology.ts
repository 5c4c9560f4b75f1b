/**
 * The lab's L2 network: a Linux bridge `br0` inside a dedicated switch
 * namespace, and one veth pair per member (controller + hosts) whose `eth0`
 * end lives in the member namespace and whose `p<i>` end is a bridge port.
 *
 * Why a separate switch namespace: `linkDown(host)` can then take the
 * switch-side port down - like pulling a cable - while the host keeps its
 * addresses and routes, and no member (not even the controller) is special.
 * Veths are created directly inside namespaces, so nothing ever appears in
 * the root namespace and interface names never clash between labs.
 *
 * Addresses: 10.231.<labIndex>.0/24 and fd00:231:<labIndex>::/64. Overlapping
 * subnets across concurrent labs are harmless: each lab is its own island.
 */
import { ip } from './netns.js';
import { run, runOk } from './proc.js';

export interface Member {
  ns: string;
  port: string; // bridge port name in the switch namespace
  ipv4: string;
  ipv6?: string;
}

export async function createSwitch(swNs: string): Promise<void> {
  await ip(['netns', 'add', swNs]);
  await ip(['-n', swNs, 'link', 'set', 'lo', 'up']);
  // STP off + forward_delay 0: ports forward immediately after linkUp.
  // Multicast snooping off: IPv6 neighbour discovery is always flooded.
  await ip([
    '-n',
    swNs,
    'link',
    'add',
    'br0',
    'type',
    'bridge',
    'stp_state',
    '0',
    'forward_delay',
    '0',
    'mcast_snooping',
    '0',
  ]);
  await ip(['-n', swNs, 'link', 'set', 'br0', 'up']);
}

export async function addMember(swNs: string, m: Member): Promise<void> {
  await ip(['netns', 'add', m.ns]);
  await ip(['-n', m.ns, 'link', 'set', 'lo', 'up']);
  await ip(['-n', swNs, 'link', 'add', m.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', m.ns]);
  await ip(['-n', swNs, 'link', 'set', m.port, 'master', 'br0']);
  await ip(['-n', swNs, 'link', 'set', m.port, 'up']);
  await ip(['-n', m.ns, 'addr', 'add', `${m.ipv4}/24`, 'dev', 'eth0']);
  if (m.ipv6) {
    // Keep IPv6 addresses across carrier loss (linkDown/linkUp) and use
    // `nodad` so they are usable at once instead of after DAD (~1 s).
    await run('ip', ['netns', 'exec', m.ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.eth0.keep_addr_on_down=1']);
    await ip(['-n', m.ns, 'addr', 'add', `${m.ipv6}/64`, 'dev', 'eth0', 'nodad']);
  }
  await ip(['-n', m.ns, 'link', 'set', 'eth0', 'up']);
}

export async function setPort(swNs: string, port: string, up: boolean): Promise<void> {
  await ip(['-n', swNs, 'link', 'set', port, up ? 'up' : 'down']);
}

/**
 * TCP connect from inside `ns` to addr:port using bash's /dev/tcp (no extra
 * tools, one process). Resolves with 'ok', 'refused' or 'timeout'.
 */
export async function tcpProbe(
  ns: string,
  addr: string,
  port: number,
  timeoutMs: number,
): Promise<'ok' | 'refused' | 'timeout'> {
  const secs = Math.max(0.1, timeoutMs / 1000).toFixed(2);
  const r = await run(
    'ip',
    ['netns', 'exec', ns, 'timeout', '-s', 'KILL', secs, 'bash', '-c', `exec 3<>/dev/tcp/${addr}/${port}`],
    { timeoutMs: timeoutMs + 5000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
  );
  if (r.exitCode === 0) return 'ok';
  return r.exitCode === 137 || r.exitCode === 124 ? 'timeout' : 'refused';
}

/**
 * Applies nft rules inside a namespace. Our own `inet vmiglab` table with an
 * input hook; the table statement is idempotent in `nft -f`, so every call
 * can start with it and rules can be added or flushed independently.
 */
export async function nftApply(ns: string, rules: string): Promise<void> {
  const base = 'table inet vmiglab {\n  chain input { type filter hook input priority 0; policy accept; }\n}\n';
  await runOk('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: base + rules });
}
