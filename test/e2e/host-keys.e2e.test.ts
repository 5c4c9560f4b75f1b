// Host keys as OpenSSH checks them, against a real sshd with real host keys: every setup here is first tried with
// the real `ssh` client, and vmig must decide the same way (or, where noted, more strictly).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type RunResult } from '../../src/lab/lab.js';
import { expectCleanFailure, expectOk } from './support.js';

describe('host keys, as OpenSSH', () => {
  let lab: Lab;
  let ip: string;
  let ed25519: string; // "ssh-ed25519 AAAA…" of h1
  let ecdsa: string; // "ecdsa-sha2-nistp256 AAAA…" of h1
  let clientKey: string;
  let agentPid: number | undefined;
  let agentSocket: string;
  let homes = 0;

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1'] });
    const h1 = lab.hosts.h1!;
    ip = h1.ipv4;
    clientKey = join(lab.home, '.ssh', 'id_ed25519');
    // h1 gets a second host key (ECDSA) and a second port (2222), as a real host often has.
    const ecdsaPath = join(h1.dir, 'ssh_host_ecdsa_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-C', 'h1-ecdsa', '-f', ecdsaPath]);
    const config = await readFile(join(h1.dir, 'sshd_config'), 'utf8');
    await writeFile(
      join(h1.dir, 'sshd_config'),
      config.replace('Port 22\n', 'Port 22\nPort 2222\n').replace(/^(HostKey .*)$/m, `$1\nHostKey ${ecdsaPath}`),
    );
    await lab.stopSshd('h1');
    await lab.startSshd('h1');
    ed25519 = pubKey(await readFile(join(h1.dir, 'ssh_host_ed25519_key.pub'), 'utf8'));
    ecdsa = pubKey(await readFile(`${ecdsaPath}.pub`, 'utf8'));
    // An ssh-agent holding the controller's key, for homes that have no ~/.ssh at all.
    agentSocket = join(lab.dir, 'agent.sock');
    const started = execFileSync('ssh-agent', ['-s', '-a', agentSocket], { encoding: 'utf8' });
    agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(started)?.[1]);
    execFileSync('ssh-add', ['-q', clientKey], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket } });
  });
  afterAll(async () => {
    if (agentPid) process.kill(agentPid, 'SIGTERM');
    await lab?.destroy();
  });

  const pubKey = (line: string): string => line.trim().split(/\s+/).slice(0, 2).join(' ');

  /** A fresh controller HOME with ~/.ssh/config (`Host` blocks) and ~/.ssh/known_hosts; returns its paths. */
  async function home(
    config: string,
    knownHosts: string,
  ): Promise<{ home: string; config: string; knownHosts: string }> {
    const dir = join(lab.dir, `home${++homes}`);
    await mkdir(join(dir, '.ssh'), { recursive: true, mode: 0o700 });
    const paths = { home: dir, config: join(dir, '.ssh', 'config'), knownHosts: join(dir, '.ssh', 'known_hosts') };
    const common = [
      `  User root`,
      `  IdentityFile ${clientKey}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${paths.knownHosts}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  ConnectTimeout 5',
    ];
    await writeFile(paths.config, `${config.replaceAll('@COMMON@', common.join('\n'))}\n`, { mode: 0o600 });
    await writeFile(paths.knownHosts, knownHosts, { mode: 0o600 });
    return paths;
  }

  const vmig = (paths: { home: string }, args: string[], env: Record<string, string> = {}): Promise<RunResult> =>
    lab.vmig(args, { env: { HOME: paths.home, ...env }, timeoutMs: 60_000 });
  /** The real OpenSSH client from the controller's namespace with that home's config. */
  const ssh = (paths: { config: string }, args: string[]): Promise<RunResult> =>
    lab.exec('controller', ['ssh', '-F', paths.config, ...args, 'true'], { timeoutMs: 30_000 });
  const sshG = (paths: { config: string }, host: string): string =>
    execFileSync('ssh', ['-G', '-F', paths.config, host], { encoding: 'utf8' });

  it('a host recorded only with its ECDSA key, which also has an ed25519 key: connects (known types offered first)', async () => {
    const paths = await home(
      `Host h1\n  HostName ${ip}\n@COMMON@\n  GlobalKnownHostsFile /dev/null`,
      `${ip} ${ecdsa}\n`,
    );
    expectOk(await ssh(paths, ['h1']));
    expectOk(await vmig(paths, ['-c', 'h1', 'list']));
  });

  it('a key of a type not on record is unknown, not "changed", and refused all the same, --accept-new-host-key included', async () => {
    // Only an RSA key on record, which h1 does not have. OpenSSH 9.2 refuses too (it calls it "CHANGED" and names
    // the RSA entry as offending); vmig says what it is, and is no less strict: nothing is accepted or recorded.
    const rsaPath = join(lab.dir, 'other_rsa');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsaPath]);
    const rsa = pubKey(await readFile(`${rsaPath}.pub`, 'utf8'));
    const paths = await home(`Host h1\n  HostName ${ip}\n@COMMON@\n  GlobalKnownHostsFile /dev/null`, `${ip} ${rsa}\n`);
    const real = await ssh(paths, ['-o', 'StrictHostKeyChecking=accept-new', 'h1']);
    expect(real.exitCode).toBe(255);
    expect(real.stderr).toMatch(/Offending RSA key in .*known_hosts:1/);
    const result = await vmig(paths, ['-c', 'h1', 'list']);
    expectCleanFailure(
      result,
      3,
      /^vmig: error: the host key of h1 \(.*:22\) is a ssh-ed25519 key, but known_hosts holds only ssh-rsa keys for "10\.231\.\d+\.\d+"/,
    );
    expect(result.stderr).not.toMatch(/REFUSED|intercepting the connection, or/);
    expectCleanFailure(
      await vmig(paths, ['--accept-new-host-key', '-c', 'h1', 'list']),
      3,
      /is a ssh-ed25519 key, but known_hosts holds only ssh-rsa keys/,
    );
    expect(await readFile(paths.knownHosts, 'utf8')).toBe(`${ip} ${rsa}\n`);
  });

  it('HostKeyAlias with a Port: looked up bare and lowercased, hashed entries included', async () => {
    const paths = await home(
      `Host hk\n  HostName ${ip}\n  Port 2222\n  HostKeyAlias H1-Key\n@COMMON@\n  GlobalKnownHostsFile /dev/null`,
      `h1-key ${ed25519}\n`,
    );
    execFileSync('ssh-keygen', ['-q', '-H', '-f', paths.knownHosts]);
    expect(await readFile(paths.knownHosts, 'utf8')).toMatch(/^\|1\|/);
    expect(sshG(paths, 'hk')).toMatch(/^hostkeyalias h1-key$/m);
    expectOk(await ssh(paths, ['hk']));
    expectOk(await vmig(paths, ['-c', 'hk', 'list']));
  });

  it('the "not in known_hosts" hint names the host as typed, and the changed-key error names the entry to remove', async () => {
    const paths = await home(
      `Host hk\n  HostName ${ip}\n  Port 2222\n  HostKeyAlias h1-key\n@COMMON@\n  GlobalKnownHostsFile /dev/null`,
      '',
    );
    expectCleanFailure(
      await vmig(paths, ['-c', 'hk', 'list']),
      3,
      new RegExp(
        `^vmig: error: the host key of hk \\(${ip.replaceAll('.', '\\.')}:2222\\) is not in known_hosts \\(as "h1-key"\\); verify it and add it \\(ssh hk once\\), or pass --accept-new-host-key$`,
      ),
    );
    const other = pubKey(execFileSync('ssh-keygen', ['-y', '-f', clientKey], { encoding: 'utf8' }));
    await writeFile(paths.knownHosts, `h1-key ${other}\n`);
    expectCleanFailure(
      await vmig(paths, ['-c', 'hk', 'list']),
      3,
      new RegExp(
        `^vmig: error: REFUSED: the host key of hk .* \\(the ssh-ed25519 key on record at ${paths.knownHosts}:1 differs\\); .*ssh-keygen -f ${paths.knownHosts} -R 'h1-key'`,
      ),
    );
  });

  it('GlobalKnownHostsFile is read: a centrally managed key lets vmig connect with an empty user file', async () => {
    const global = join(lab.dir, 'global_known_hosts');
    await writeFile(global, `${ip} ${ed25519}\n`);
    const paths = await home(`Host h1\n  HostName ${ip}\n@COMMON@\n  GlobalKnownHostsFile ${global}`, '');
    expect(sshG(paths, 'h1')).toContain(`globalknownhostsfile ${global}`);
    expectOk(await ssh(paths, ['h1']));
    expectOk(await vmig(paths, ['-c', 'h1', 'list']));
  });

  it('a pinned global key wins over --accept-new-host-key: refused, nothing recorded', async () => {
    const global = join(lab.dir, 'global_pinned');
    const other = pubKey(execFileSync('ssh-keygen', ['-y', '-f', clientKey], { encoding: 'utf8' })); // an ed25519 key h1 does not have
    await writeFile(global, `${ip} ${other}\n`);
    const paths = await home(`Host h1\n  HostName ${ip}\n@COMMON@\n  GlobalKnownHostsFile ${global}`, '');
    const real = await ssh(paths, ['-o', 'StrictHostKeyChecking=accept-new', 'h1']);
    expect(real.exitCode).toBe(255);
    expect(real.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/);
    expectCleanFailure(
      await vmig(paths, ['--accept-new-host-key', '-c', 'h1', 'list']),
      3,
      new RegExp(`REFUSED: the host key of h1 .*on record at ${global}:1 differs`),
    );
    expect(await readFile(paths.knownHosts, 'utf8')).toBe('');
  });

  it('--accept-new-host-key with no ~/.ssh at all: creates it 0700, records the key, and the next run needs no flag', async () => {
    const fresh = { home: join(lab.dir, 'fresh-home') };
    await mkdir(fresh.home, { mode: 0o755 });
    const env = { SSH_AUTH_SOCK: agentSocket };
    expectCleanFailure(await vmig(fresh, ['-c', `ssh://root@${ip}`, 'list'], env), 3, /is not in known_hosts/);
    const accepted = await vmig(fresh, ['--accept-new-host-key', '-c', `ssh://root@${ip}`, 'list'], env);
    expectOk(accepted);
    expect(accepted.stderr).toBe('');
    expect((await stat(join(fresh.home, '.ssh'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(fresh.home, '.ssh', 'known_hosts'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(fresh.home, '.ssh', 'known_hosts'), 'utf8')).toBe(`${ip} ${ed25519}\n`);
    expectOk(await vmig(fresh, ['-c', `ssh://root@${ip}`, 'list'], env));
  });

  it('--accept-new-host-key that cannot save the key: an error, nothing accepted', async () => {
    const home = join(lab.dir, 'home-is-a-file');
    await writeFile(home, '');
    await chmod(home, 0o600);
    const result = await vmig({ home }, ['--accept-new-host-key', '-c', `ssh://root@${ip}`, 'list'], {
      SSH_AUTH_SOCK: agentSocket,
    });
    expectCleanFailure(
      result,
      3,
      new RegExp(
        `^vmig: error: could not record the host key of root@${ip.replaceAll('.', '\\.')} .* in ${home}/\\.ssh/known_hosts: .*; nothing was accepted$`,
      ),
    );
    expect(result.stdout).toBe('');
  });

  it('a ?vmig= path with brace expansion is refused with exit 2, and nothing runs on the host', async () => {
    const marker = join(lab.hosts.h1!.home, 'pwned');
    const result = await lab.vmig(['-c', `ssh://root@${ip}?vmig=/{usr/bin/touch,${marker.slice(1)}}`, 'list'], {
      timeoutMs: 60_000,
    });
    expectCleanFailure(result, 2, /vmig= in .* must be an absolute path of letters, digits and \. _ \/ \+ - only/);
    expect(existsSync(marker)).toBe(false);
    // The same through the config file's vmig path.
    const configFile = join(lab.dir, 'vmig.toml');
    await writeFile(
      configFile,
      `[hosts.bad]\nuri = "ssh://root@${ip}"\nvmig = "/{usr/bin/touch,${marker.slice(1)}}"\n`,
    );
    expectCleanFailure(
      await lab.vmig(['--config', configFile, '-c', 'bad', 'list'], { timeoutMs: 60_000 }),
      2,
      /hosts\.bad\.vmig: must be an absolute path of letters/,
    );
    expect(existsSync(marker)).toBe(false);
  });
});
