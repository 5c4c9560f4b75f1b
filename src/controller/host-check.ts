// `vmig host check`: per host, what the controller can learn (SSH, agent and version, sshd's stream-local
// forwarding) plus what the agent judges about itself (QEMU, KVM, state dir, host.toml, port, memory, disk),
// and with a source, whether that source reaches the host's migration port.
import type { ClientChannel } from 'ssh2';
import { describeError, isVmigError } from '../errors.js';
import type { HostConnection } from '../hosts/connection.js';
import { fail, pass, type CheckResult } from '../hostcheck/checks.js';

export interface HostCheckReport {
  host: string;
  checks: CheckResult[];
}

/** The fix for a host the controller could not get an agent on. */
export function agentFailure(host: string, error: unknown): CheckResult {
  const message = describeError(error);
  const code = isVmigError(error) ? error.code : 'INTERNAL';
  if (
    code === 'HOST_UNREACHABLE' ||
    code === 'AUTH_FAILED' ||
    code === 'HOST_KEY_UNKNOWN' ||
    code === 'HOST_KEY_CHANGED'
  ) {
    return fail('ssh', message, `make "ssh ${host} true" work from this controller (keys, known_hosts, network)`);
  }
  // The agent ran but refused its state directory (owner, mode): that check failed, with the agent's own fix.
  if (code === 'HOST_UNSUITABLE' && message.includes('state directory')) {
    const [detail, fix] = message.split('; run ');
    return fail('state-dir', detail ?? message, fix ?? 'see the message');
  }
  return fail('agent', message, `vmig host install ${host}`);
}

async function streamLocal(connection: HostConnection): Promise<CheckResult> {
  const ssh = connection.ssh;
  if (!ssh) return pass('stream-local', 'local host: no SSH in between');
  const { id, path } = await connection.call('host.listen-unix');
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5_000);
      ssh.openssh_forwardOutStreamLocal(path, (error: Error | undefined, channel: ClientChannel) => {
        clearTimeout(timer);
        if (error) return reject(error);
        channel.on('error', () => undefined);
        channel.close();
        resolve();
      });
    });
    return pass('stream-local', 'sshd forwards to unix sockets (the ssh transport works)');
  } catch (error) {
    return fail(
      'stream-local',
      `sshd refused to forward to a unix socket (${describeError(error)}): the ssh transport cannot work`,
      'set "AllowStreamLocalForwarding yes" in sshd_config and reload sshd',
    );
  } finally {
    await connection.call('host.unlisten', { id }).catch(() => undefined);
  }
}

export async function checkConnectedHost(connection: HostConnection, version: string): Promise<CheckResult[]> {
  const { hello } = connection;
  const results: CheckResult[] = [
    pass(
      'agent',
      `vmig ${hello.version} (pid ${hello.pid}, state ${hello.stateDir})${hello.version === version ? '' : ` but the controller is ${version}`}`,
    ),
  ];
  const { checks } = await connection.call('host.check');
  results.push(...checks, await streamLocal(connection));
  return results;
}

/** From SRC to the host's migration port: what `auto` would find (tls when it opens, else ssh). */
export async function checkPath(
  source: HostConnection,
  sourceName: string,
  destination: HostConnection,
): Promise<CheckResult> {
  const name = `from ${sourceName}`;
  const { id, endpoint } = await destination.call('host.listen');
  try {
    const probe = await source.call('host.probe-tcp', { endpoint });
    const where = `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
    if (probe.reachable)
      return pass(
        name,
        `${sourceName} reaches the migration port ${where}: transport auto picks tls (direct possible)`,
      );
    return fail(
      name,
      `${sourceName} cannot reach the migration port ${where} (${probe.reason}): only the ssh transport works`,
      `open the migration ports (TCP) from ${sourceName} to this host in the firewall, or migrate with --transport ssh (slower)`,
    );
  } finally {
    await destination.call('host.unlisten', { id }).catch(() => undefined);
  }
}
