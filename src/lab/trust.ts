// Host-to-host SSH trust for p2p (`--p2p`): the source host's own `ssh` reaches the destination's sshd with an
// identity of its own, authorized there, under strict host-key checking against a known_hosts that holds the
// destination's real host key. Written as an operator would: an ssh_config (-F) named by `p2p_ssh_config` in the
// source's host.toml. Either direction, any number of pairs; each call rewrites the source's files from the set
// of destinations it trusts, so it is idempotent.
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keygen, knownHostsText, writePrivate } from './keys.js';
import type { LabHost } from './lab.js';

export interface SshTrust {
  /** The ssh_config the source's agent passes to `ssh -F`. */
  sshConfig: string;
  /** Its UserKnownHostsFile: empty it to make the source distrust every destination's host key. */
  knownHosts: string;
  identity: string;
}

/** Per source host: the destinations it trusts (a lab's state, kept by the Lab). */
export type TrustState = Map<string, Set<string>>;

export const trustFiles = (from: LabHost): SshTrust => ({
  sshConfig: join(from.dir, 'p2p_ssh_config'),
  knownHosts: join(from.dir, 'p2p_known_hosts'),
  identity: join(from.dir, 'p2p_id'),
});

/** `Host <name> <ipv4> …` blocks: the destination by its lab name or its addresses, as the controller named it. */
export function p2pSshConfigText(trusted: LabHost[], files: SshTrust): string {
  return trusted
    .map((to) =>
      [
        `Host ${[to.name, to.ipv4, ...(to.ipv6 ? [to.ipv6] : [])].join(' ')}`,
        `  HostName ${to.ipv4}`,
        '  User root',
        `  IdentityFile ${files.identity}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${files.knownHosts}`,
        '  GlobalKnownHostsFile /dev/null',
        '',
      ].join('\n'),
    )
    .join('');
}

export async function trustSsh(state: TrustState, from: LabHost, to: LabHost, all: Record<string, LabHost>) {
  if (from.name === to.name) throw new Error(`a lab host needs no SSH trust in itself (${from.name})`);
  const files = trustFiles(from);
  let trusted = state.get(from.name);
  if (!trusted) {
    trusted = new Set();
    state.set(from.name, trusted);
    await keygen(files.identity, `${from.name}-p2p`);
    await appendFile(join(from.dir, 'host.toml'), `p2p_ssh_config = ${JSON.stringify(files.sshConfig)}\n`);
  }
  if (!trusted.has(to.name)) {
    const pub = (await readFile(`${files.identity}.pub`, 'utf8')).trim();
    await appendFile(join(to.dir, 'authorized_keys'), `${pub}\n`);
    trusted.add(to.name);
  }
  const hosts = [...trusted].map((name) => all[name]!);
  const entries = await Promise.all(
    hosts.map(async (h) => ({
      ...h,
      hostPubKey: (await readFile(join(h.dir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim(),
    })),
  );
  await writePrivate(files.knownHosts, knownHostsText(entries));
  await writePrivate(files.sshConfig, p2pSshConfigText(hosts, files));
  return files;
}
