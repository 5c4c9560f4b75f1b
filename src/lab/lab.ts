/**
 * Network-namespace lab of real "hosts" for e2e tests, the demo and the benchmark.
 *
 *   const lab = await Lab.create({ hosts: ['h1', 'h2'], ipv6: true });
 *   try { await lab.vmig(['migrate', 'vm1', lab.sshUri('h2')]); } finally { await lab.destroy(); }
 *
 * Topology (see topology.ts): namespaces `vmig-<pid>-<n>-{sw,ctl,<host>}`;
 * a bridge in `sw`; controller 10.231.L.1, hosts 10.231.L.11, .12, ...
 * (+ fd00:231:L::1, ::11, ... with ipv6), L = labIndex in 1..254.
 * Files under `dir` = /tmp/vl-<pid>-<n>-XXXXXX (short: unix sockets <= 108 bytes):
 *   bin/vmig -> <repoRoot>/bin/vmig     home/.ssh/{config,known_hosts,id_ed25519}
 *   ctl/state                           <host>/{sshd_config,ssh_host_ed25519_key,authorized_keys,sshd.log,host.toml,home/,state/}
 * Each host runs its own /usr/sbin/sshd in its namespace. A session there
 * (ssh, or lab.exec) has PATH=<dir>/bin:<node dir>:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin,
 * VMIG_STATE_DIR=<dir>/<host>/state, HOME=<dir>/<host>/home and VMIG_INSTALL_DIR=<dir>/<host>/lib (where
 * `vmig host install` puts its copy; sshd SetEnv, see sshd.ts). Hosts in `withoutVmig` lack <dir>/bin on their PATH.
 * The controller runs vmig with HOME=<dir>/home, VMIG_STATE_DIR=<dir>/ctl/state.
 * NB: the system `ssh` ignores $HOME (uses the passwd entry): pass `-F <home>/.ssh/config`.
 *
 * Beyond the brief: RunResult has signal/timedOut; `'controller'` is accepted as a
 * host name by exec/pids/tcpConnect; unblockPorts, startSshd, ssh, tcpConnect helpers.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { registerLab, unregisterLab } from './cleanup.js';
import { keygen, knownHostsText, sshConfigText, writePrivate } from './keys.js';
import {
  deleteNetns,
  deleteNetnsSync,
  killNetnsProcesses,
  killNetnsProcessesSync,
  netnsPids,
  sweepStaleLabs,
} from './netns.js';
import { sleep } from '../util/timers.js';
import { run, spawnProc, type ProcHandle, type RunResult } from './proc.js';
import { sshdConfigText, startSshd, waitForSshd, withPrivateMount, type SshdProcess } from './sshd.js';
import { findRepoRoot } from './repo.js';
import { trustSsh, type SshTrust, type TrustState } from './trust.js';
import { addMember, createSwitch, nftApply, setPort, tcpProbe } from './topology.js';

export { sweepStaleLabs } from './netns.js';
export { findRepoRoot } from './repo.js';
export type { ProcHandle, RunResult, WaitLineOptions } from './proc.js';

export interface LabOptions {
  hosts: string[];
  repoRoot?: string /* default findRepoRoot() */;
  ipv6?: boolean;
  /** Hosts whose PATH has no vmig (for `vmig host install`); every host installs into <its dir>/lib. */
  withoutVmig?: string[];
}
export interface LabHost {
  name: string;
  ns: string;
  ipv4: string;
  ipv6?: string;
  stateDir: string;
  dir: string;
  home: string;
  port: string;
  /** What this host sees at the lab's `privateDir` (its local disk): the backing directory, readable from the test. */
  privateDir: string;
}
export interface LabRunOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  input?: string;
}
export const CONTROLLER = 'controller';
const RESERVED = new Set([CONTROLLER, 'ctl', 'sw', 'bin', 'home']);
let labCounter = 0;

export class Lab {
  readonly hosts: Record<string, LabHost> = {};
  readonly controllerNs: string;
  readonly controllerIpv4: string;
  readonly controllerIpv6?: string;
  readonly controllerStateDir: string;
  readonly switchNs: string;
  readonly home: string;
  readonly sshConfig: string;
  readonly binDir: string;
  /** PATH used on every host and for the controller. */
  readonly path: string;
  /**
   * The same path on every host, holding different files on each (a host's local disk): each host's sshd, and so
   * its agents and QEMUs, and each lab.exec run in a mount namespace of their own (`ip netns exec` makes one)
   * where the host's `privateDir` is bind-mounted here. Outside the hosts it is an empty directory.
   */
  readonly privateDir: string;
  private readonly sshds = new Map<string, SshdProcess>();
  private readonly withoutVmig = new Set<string>();
  private readonly extraEnv = new Map<string, Record<string, string>>();
  private readonly trust: TrustState = new Map();
  private destroying?: Promise<void>;

  private constructor(
    readonly id: string,
    readonly dir: string,
    readonly labIndex: number,
    readonly repoRoot: string,
    hostNames: string[],
    readonly ipv6: boolean,
  ) {
    const net = `10.231.${labIndex}`;
    const net6 = `fd00:231:${labIndex}::`; // labIndex <= 254 is a valid, canonical hex group
    this.switchNs = `${id}-sw`;
    this.controllerNs = `${id}-ctl`;
    this.controllerIpv4 = `${net}.1`;
    if (ipv6) this.controllerIpv6 = `${net6}1`;
    this.controllerStateDir = join(dir, 'ctl', 'state');
    this.home = join(dir, 'home');
    this.sshConfig = join(this.home, '.ssh', 'config');
    this.binDir = join(dir, 'bin');
    const nodeDir = dirname(process.execPath); // hosts' `#!/usr/bin/env node` must find the same node
    this.path = [...new Set([this.binDir, nodeDir, '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'])].join(
      ':',
    );
    this.privateDir = join(dir, 'private');
    hostNames.forEach((name, i) => {
      const hdir = join(dir, name);
      this.hosts[name] = {
        name,
        ns: `${id}-${name}`,
        ipv4: `${net}.${11 + i}`,
        ...(ipv6 ? { ipv6: `${net6}${11 + i}` } : {}),
        dir: hdir,
        stateDir: join(hdir, 'state'),
        home: join(hdir, 'home'),
        port: `p${i + 1}`,
        privateDir: join(hdir, 'private'),
      };
    });
  }

  static async create(opts: LabOptions): Promise<Lab> {
    const names = opts.hosts;
    if (!names.length || names.length > 200) throw new Error('Lab needs 1..200 hosts');
    for (const h of names) {
      if (!/^[a-z][a-z0-9]{0,11}$/.test(h) || RESERVED.has(h)) throw new Error(`bad lab host name: ${h}`);
    }
    if (new Set(names).size !== names.length) throw new Error('duplicate lab host names');
    await sweepStaleLabs();
    // Unique per process *and* worker thread (vitest may run files in threads of one pid).
    const n = threadId * 1000 + (++labCounter % 1000);
    const dir = await mkdtemp(`/tmp/vl-${process.pid}-${n}-`);
    const lab = new Lab(
      `vmig-${process.pid}-${n}`,
      dir,
      ((labCounter - 1) % 254) + 1,
      opts.repoRoot ?? findRepoRoot(),
      names,
      opts.ipv6 ?? false,
    );
    for (const name of opts.withoutVmig ?? []) lab.withoutVmig.add(name);
    registerLab(lab); // from here on, even a crash mid-setup is cleaned up
    try {
      await lab.setup();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private get hostList(): LabHost[] {
    return Object.values(this.hosts);
  }
  private get allNs(): string[] {
    return [this.controllerNs, ...this.hostList.map((h) => h.ns), this.switchNs];
  }

  private async setup(): Promise<void> {
    await createSwitch(this.switchNs);
    await addMember(this.switchNs, {
      ns: this.controllerNs,
      port: 'p0',
      ipv4: this.controllerIpv4,
      ...(this.ipv6 ? { ipv6: this.controllerIpv6 } : {}),
    });
    for (const h of this.hostList) await addMember(this.switchNs, h);

    const sshDir = join(this.home, '.ssh');
    await mkdir(sshDir, { recursive: true, mode: 0o700 });
    await mkdir(this.binDir);
    await mkdir(this.controllerStateDir, { recursive: true });
    await mkdir(this.privateDir);
    // A symlink, not a copy: the CLI resolves its own modules relative to its real path.
    await symlink(join(this.repoRoot, 'bin', 'vmig'), join(this.binDir, 'vmig'));
    const clientKey = join(sshDir, 'id_ed25519');
    const [clientPub, ...hostPubs] = await Promise.all([
      keygen(clientKey, `vmig-lab-controller@${this.id}`),
      ...this.hostList.map(async (h) => {
        await mkdir(h.stateDir, { recursive: true });
        await mkdir(h.privateDir, { recursive: true });
        await mkdir(h.home, { recursive: true, mode: 0o700 });
        return keygen(join(h.dir, 'ssh_host_ed25519_key'), `${h.name}@${this.id}`);
      }),
    ]);
    const entries = this.hostList.map((h, i) => ({ ...h, hostPubKey: hostPubs[i] ?? '' }));
    const knownHosts = join(sshDir, 'known_hosts');
    await writePrivate(knownHosts, knownHostsText(entries));
    await writePrivate(this.sshConfig, sshConfigText(entries, clientKey, knownHosts));

    for (const h of this.hostList) {
      await writePrivate(join(h.dir, 'authorized_keys'), `${clientPub}\n`);
      // Shared storage, as an operator would declare theirs: disks of lab guests live in the lab dir.
      await writeFile(join(h.dir, 'host.toml'), `incoming_disk_paths = [${JSON.stringify(`${this.dir}/`)}]\n`);
      await this.writeSshdConfig(h);
    }
    await Promise.all(this.hostList.map((h) => this.startSshd(h.name)));
    await this.checkMesh();
  }

  private hostEnvVars(h: LabHost): Record<string, string> {
    const path = this.withoutVmig.has(h.name)
      ? this.path
          .split(':')
          .filter((dir) => dir !== this.binDir)
          .join(':')
      : this.path;
    return {
      PATH: path,
      VMIG_STATE_DIR: h.stateDir,
      HOME: h.home,
      VMIG_HOST_CONFIG: join(h.dir, 'host.toml'),
      VMIG_INSTALL_DIR: join(h.dir, 'lib'),
      ...this.extraEnv.get(h.name),
    };
  }

  private writeSshdConfig(h: LabHost): Promise<void> {
    return writeFile(
      join(h.dir, 'sshd_config'),
      sshdConfigText({
        listen: [h.ipv4, ...(h.ipv6 ? [h.ipv6] : [])],
        hostKey: join(h.dir, 'ssh_host_ed25519_key'),
        authorizedKeys: join(h.dir, 'authorized_keys'),
        env: this.hostEnvVars(h),
      }),
    );
  }

  /**
   * Host-to-host SSH trust for p2p: `from`'s own ssh reaches `to` (its identity authorized there, `to`'s host key
   * in its known_hosts, `p2p_ssh_config` in its host.toml). Call once per direction; again after emptying the
   * returned known_hosts to restore it.
   */
  trustSsh(from: string, to: string): Promise<SshTrust> {
    return trustSsh(this.trust, this.host(from), this.host(to), this.hosts);
  }

  /** Adds to (or overrides) a host's session environment and restarts its sshd; new sessions see it. */
  async setHostEnv(name: string, env: Record<string, string>): Promise<void> {
    const h = this.host(name);
    this.extraEnv.set(name, { ...this.extraEnv.get(name), ...env });
    await this.writeSshdConfig(h);
    await this.stopSshd(name);
    await this.startSshd(name);
  }

  private host(name: string): LabHost {
    const h = this.hosts[name];
    if (!h) throw new Error(`no such lab host: ${name}`);
    return h;
  }

  private nsOf(name: string): string {
    return name === CONTROLLER ? this.controllerNs : this.host(name).ns;
  }

  /** Every member can reach every host's sshd over IPv4 (and IPv6). */
  private async checkMesh(): Promise<void> {
    const froms = [CONTROLLER, ...Object.keys(this.hosts)];
    const targets = this.hostList.flatMap((h) => [h.ipv4, ...(h.ipv6 ? [h.ipv6] : [])]);
    await Promise.all(
      froms.flatMap((f) =>
        targets.map(async (addr) => {
          const r = await this.tcpConnect(f, addr, 22, 3000);
          if (r !== 'ok') throw new Error(`lab mesh check: ${f} -> ${addr}:22 ${r}`);
        }),
      ),
    );
  }

  /** (Re)starts the host's sshd and waits (bounded) until a real ssh login works. */
  async startSshd(name: string): Promise<void> {
    const h = this.host(name);
    const old = this.sshds.get(name);
    if (old && old.exitStatus() === null) return;
    const sshd = startSshd(h.ns, join(h.dir, 'sshd_config'), join(h.dir, 'sshd.log'), {
      from: h.privateDir,
      to: this.privateDir,
    });
    this.sshds.set(name, sshd);
    await waitForSshd(sshd, join(h.dir, 'sshd.log'), () => this.ssh(name, 'true', { timeoutMs: 8000 }));
  }

  async stopSshd(name: string): Promise<void> {
    const sshd = this.sshds.get(name);
    if (!sshd || sshd.exitStatus() !== null) return;
    // Only the listener: sessions already open keep running, as on a real host.
    sshd.child.kill('SIGTERM');
    for (let i = 0; i < 60 && sshd.exitStatus() === null; i++) await sleep(50);
    if (sshd.exitStatus() === null) sshd.child.kill('SIGKILL');
    for (let i = 0; i < 40 && sshd.exitStatus() === null; i++) await sleep(50);
  }

  private controllerEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // The developer's agent and vmig settings must not leak into the lab.
    for (const k of Object.keys(env)) if (k.startsWith('VMIG_') || k.startsWith('SSH_')) delete env[k];
    // Nor the test runner's colour settings: output is checked as a script sees it, unless a test sets them.
    delete env.FORCE_COLOR;
    delete env.NO_COLOR;
    return { ...env, HOME: this.home, PATH: this.path, VMIG_STATE_DIR: this.controllerStateDir, ...extra };
  }

  private vmigArgv(args: string[]): string[] {
    // Through its #! line, as a user runs it (with its node flags); PATH finds this same node.
    return ['netns', 'exec', this.controllerNs, join(this.repoRoot, 'bin', 'vmig'), ...args];
  }

  /** Runs vmig in the controller namespace. Never throws on non-zero exit. Default timeout 5 min. */
  vmig(args: string[], opts: LabRunOptions = {}): Promise<RunResult> {
    return run('ip', this.vmigArgv(args), {
      env: this.controllerEnv(opts.env),
      timeoutMs: opts.timeoutMs ?? 300_000,
      input: opts.input,
    });
  }

  /** Runs vmig on the caller's terminal (stdio inherited), for the demo: returns the exit code. */
  vmigInteractive(args: string[], opts: LabRunOptions = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', this.vmigArgv(args), { env: this.controllerEnv(opts.env), stdio: 'inherit' });
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1)));
    });
  }

  /** Starts vmig and returns at once; the handle's pid is vmig's own node process. */
  spawnVmig(args: string[], opts: LabRunOptions = {}): ProcHandle {
    return spawnProc('ip', this.vmigArgv(args), {
      env: this.controllerEnv(opts.env),
      timeoutMs: opts.timeoutMs,
      input: opts.input,
    });
  }

  /** Runs argv inside a host's namespace (or 'controller') with that host's session env. */
  exec(name: string, cmd: string[], opts: LabRunOptions = {}): Promise<RunResult> {
    const env: NodeJS.ProcessEnv =
      name === CONTROLLER
        ? this.controllerEnv(opts.env)
        : {
            USER: 'root',
            LOGNAME: 'root',
            SHELL: '/bin/bash',
            LANG: 'C.UTF-8',
            ...this.hostEnvVars(this.host(name)),
            ...opts.env,
          };
    // A host's command sees the host's private directory, as its sshd does (see privateDir).
    const argv =
      name === CONTROLLER ? cmd : withPrivateMount({ from: this.host(name).privateDir, to: this.privateDir }, cmd);
    return run('ip', ['netns', 'exec', this.nsOf(name), ...argv], {
      env,
      timeoutMs: opts.timeoutMs ?? 60_000,
      input: opts.input,
    });
  }

  /** Real OpenSSH client from the controller namespace: `ssh -F <config> <target> <command>`. */
  ssh(target: string, command: string, opts: LabRunOptions = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.controllerNs, 'ssh', '-F', this.sshConfig, target, command], {
      env: this.controllerEnv(opts.env),
      timeoutMs: opts.timeoutMs ?? 60_000,
      input: opts.input,
    });
  }

  /** `ssh://root@<ipv4>` by default; 'ipv6' gives ssh://root@[addr], 'alias' gives ssh://<name> (needs $HOME/.ssh/config). */
  sshUri(name: string, form: 'ipv4' | 'ipv6' | 'alias' = 'ipv4'): string {
    const h = this.host(name);
    if (form === 'alias') return `ssh://${h.name}`;
    if (form === 'ipv6') {
      if (!h.ipv6) throw new Error('lab created without ipv6');
      return `ssh://root@[${h.ipv6}]`;
    }
    return `ssh://root@${h.ipv4}`;
  }

  tcpConnect(from: string, addr: string, port: number, timeoutMs = 3000): Promise<'ok' | 'refused' | 'timeout'> {
    return tcpProbe(this.nsOf(from), addr, port, timeoutMs);
  }

  /** Takes the host's switch port down: like a pulled cable, the host keeps its addresses. */
  linkDown(name: string): Promise<void> {
    return setPort(this.switchNs, this.host(name).port, false);
  }
  linkUp(name: string): Promise<void> {
    return setPort(this.switchNs, this.host(name).port, true);
  }

  /** Drops (no RST: peers see timeouts) inbound TCP to ports from..to on the host. */
  async blockPorts(name: string, from: number, to: number): Promise<void> {
    await nftApply(this.host(name).ns, `add rule inet vmiglab input tcp dport ${from}-${to} drop\n`);
  }

  /** Removes every blockPorts() rule of the host. */
  async unblockPorts(name: string): Promise<void> {
    await nftApply(this.host(name).ns, 'flush chain inet vmiglab input\n');
  }

  pids(name: string): Promise<number[]> {
    return netnsPids(this.nsOf(name));
  }

  /** Idempotent; safe to call after a failed create(). */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      await killNetnsProcesses(this.allNs);
      // Let node reap its sshd children so no zombie outlives the lab.
      for (let i = 0; i < 40 && [...this.sshds.values()].some((s) => s.exitStatus() === null); i++) await sleep(25);
      for (const ns of this.allNs) await deleteNetns(ns);
      await rm(this.dir, { recursive: true, force: true });
      unregisterLab(this);
    })();
    return this.destroying;
  }

  /** Synchronous best effort for process 'exit'/signal hooks (see cleanup.ts). */
  destroySync(): void {
    for (const s of this.sshds.values()) if (s.exitStatus() === null) s.child.kill('SIGKILL');
    killNetnsProcessesSync(this.allNs);
    for (const ns of this.allNs) deleteNetnsSync(ns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
