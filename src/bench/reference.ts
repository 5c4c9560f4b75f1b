// The reference rows: the same guest and RAM size migrated by plain QEMU through an OpenSSH -L forward or
// stunnel, or with QEMU's own TLS (tls-creds-psk, TCP straight to the destination), driven here over QMP — no
// vmig involved. A second guest ("benchref", same argv builder as vmig's)
// lives on one host, paused except during its own migrations so it never competes with vmig's guest for a core.
// Per migration: start the destination with `-incoming defer -S`, `migrate-incoming tcp:127.0.0.1:Q`, open the
// tunnel, `migrate tcp:127.0.0.1:P` on the source, `cont` the destination on its MIGRATION completed event
// (event-driven: the best case a control plane can reach), then quit the source.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDomain, type DomainDefinition } from '../domain/definition.js';
import { STATUS_HMP } from '../lab/guest-status.js';
import type { Lab } from '../lab/lab.js';
import { sleep } from '../util/timers.js';
import { qemuArgv } from '../qemu/argv.js';
import { qmpEventTime, watchEventTime } from '../qemu/event-time.js';
import { TERMINAL_STATUSES, toOutcome, type QueryMigrate } from '../qemu/migration-stats.js';
import { QmpClient } from '../qemu/qmp.js';
import { waitUntilFilled } from './guest.js';
import { RssSampler } from './rss.js';
import { roundMs, type Sample } from './stats.js';
import { openSshForward, PORTS, stunnelPair, type Tunnel } from './tunnels.js';

let launches = 0;

class RefQemu {
  private constructor(
    readonly host: string,
    readonly pid: number,
    readonly qmp: QmpClient,
  ) {}

  static async launch(lab: Lab, host: string, definition: DomainDefinition, incoming: boolean): Promise<RefQemu> {
    const dir = join(lab.dir, `ref${++launches}`);
    await mkdir(dir, { mode: 0o700 });
    const paths = {
      qmpSocket: join(dir, 'q.sock'),
      userQmpSocket: join(dir, 'u.sock'),
      pidFile: join(dir, 'pid'),
      serialLog: join(dir, 'serial.log'),
    };
    const started = await lab.exec(host, [
      'qemu-system-x86_64',
      ...qemuArgv(definition, paths, { accel: 'tcg', incoming }),
    ]);
    if (started.exitCode !== 0) throw new Error(`reference QEMU on ${host} did not start: ${started.stderr.trim()}`);
    const pid = Number((await readFile(paths.pidFile, 'utf8')).trim());
    const qmp = await QmpClient.connect(paths.qmpSocket);
    await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    return new RefQemu(host, pid, qmp);
  }

  async quit(): Promise<void> {
    await this.qmp.execute('quit').catch(() => undefined);
    this.qmp.close();
    for (let i = 0; i < 50 && processAlive(this.pid); i++) await sleep(100);
    if (processAlive(this.pid)) process.kill(this.pid, 'SIGKILL');
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class ReferenceGuest {
  private constructor(
    private readonly lab: Lab,
    private readonly definition: DomainDefinition,
    private qemu: RefQemu,
  ) {}

  get host(): string {
    return this.qemu.host;
  }

  /** Boots the guest, waits until it has filled its RAM, and pauses it until its first migration. */
  static async boot(lab: Lab, host: string, memoryMiB: number, kernel: string): Promise<ReferenceGuest> {
    const definition = parseDomain({
      name: 'benchref',
      memoryMiB,
      vcpus: 1,
      machine: 'pc',
      accel: 'tcg',
      kernel,
      append: 'idle',
    });
    const qemu = await RefQemu.launch(lab, host, definition, false);
    const guest = new ReferenceGuest(lab, definition, qemu);
    await waitUntilFilled(
      async () => await qemu.qmp.execute<string>('human-monitor-command', { 'command-line': STATUS_HMP }),
    );
    await qemu.qmp.execute('stop');
    return guest;
  }

  async migrate(
    transport: 'openssh' | 'stunnel' | 'qemu-tls',
    round: number,
    to: string,
  ): Promise<Sample & { tunnel: string }> {
    const { lab } = this;
    const from = this.qemu.host;
    const source = this.qemu;
    const destination = await RefQemu.launch(lab, to, this.definition, true);
    let tunnel: Tunnel | undefined;
    let rss: RssSampler | undefined;
    try {
      let uri = `tcp:127.0.0.1:${PORTS.sourceLocal}`;
      if (transport === 'qemu-tls') {
        // QEMU's own TLS 1.3 with a pre-shared key: no tunnel process, TCP from QEMU to QEMU.
        const dir = join(lab.dir, `qemu-psk-${round}-${from}`);
        await mkdir(dir, { mode: 0o700 });
        await writeFile(join(dir, 'keys.psk'), `vmigbench:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
        const id = `tls-${round}-${from}`;
        await destination.qmp.execute('object-add', { 'qom-type': 'tls-creds-psk', id, endpoint: 'server', dir });
        await source.qmp.execute('object-add', {
          'qom-type': 'tls-creds-psk',
          id,
          endpoint: 'client',
          dir,
          username: 'vmigbench',
        });
        await destination.qmp.execute('migrate-set-parameters', { 'tls-creds': id });
        await source.qmp.execute('migrate-set-parameters', { 'tls-creds': id });
        const address = `${lab.hosts[to]!.ipv4}:${PORTS.destinationQemu}`;
        await destination.qmp.execute('migrate-incoming', { uri: `tcp:${address}` });
        uri = `tcp:${address}`;
        tunnel = {
          describe: () => 'QEMU tls-creds-psk (TLS 1.3, PSK), no tunnel process',
          close: async () => undefined,
        };
      } else {
        await source.qmp.execute('migrate-set-parameters', { 'tls-creds': '' });
        await destination.qmp.execute('migrate-incoming', { uri: `tcp:127.0.0.1:${PORTS.destinationQemu}` });
        tunnel =
          transport === 'openssh' ? await openSshForward(lab, from, to) : await stunnelPair(lab, from, to, lab.dir);
      }
      rss = new RssSampler([
        { side: 'source', netns: lab.hosts[from]!.ns, match: (argv) => argv[0] === 'ssh' || argv[0] === 'stunnel' },
        {
          side: 'destination',
          netns: lab.hosts[to]!.ns,
          match: (argv) => argv[0] === 'stunnel' || /^sshd: root/.test(argv[0] ?? ''),
        },
      ]);
      await source.qmp.execute('migrate-set-parameters', { 'max-bandwidth': Number.MAX_SAFE_INTEGER });
      await source.qmp.execute('cont');
      await sleep(500); // let the guest settle into its verify loop, as vmig's guest is
      const stop = watchEventTime(source.qmp, 'STOP');
      const incoming = destination.qmp.waitForEvent(
        (event) => event.event === 'MIGRATION' && ['completed', 'failed'].includes(String(event.data?.status)),
        600_000,
      );
      const outgoingFailed = source.qmp.waitForEvent(
        (event) => event.event === 'MIGRATION' && ['failed', 'cancelled'].includes(String(event.data?.status)),
        600_000,
      );
      outgoingFailed.catch(() => undefined);
      incoming.catch(() => undefined);
      await rss.start();
      const started = Date.now();
      await source.qmp.execute('migrate', { uri });
      const arrived = await Promise.race([incoming, outgoingFailed]);
      if (arrived.data?.status !== 'completed')
        throw new Error(`reference migration over ${transport} from ${from} to ${to}: ${String(arrived.data?.status)}`);
      const resumed = destination.qmp.waitForEvent((event) => event.event === 'RESUME', 5_000);
      await destination.qmp.execute('cont');
      const resumedAt = qmpEventTime(await resumed);
      const wallTimeMs = Date.now() - started;
      const reply = await finalState(source.qmp);
      const peakRssKiB = await rss.stop();
      const cpuSeconds = rss.cpuSeconds();
      stop.stop();
      if (reply.status !== 'completed')
        throw new Error(`reference migration over ${transport}: source says ${reply.status}`);
      const outcome = toOutcome(reply);
      const sample = {
        transport,
        round,
        from,
        to,
        transferredBytes: outcome.transferredBytes,
        qemuTotalTimeMs: outcome.totalTimeMs,
        qemuDowntimeMs: outcome.downtimeMs,
        wallTimeMs,
        ...(stop.at !== undefined && resumedAt !== undefined ? { guestDowntimeMs: roundMs(resumedAt - stop.at) } : {}),
        peakRssKiB,
        cpuSeconds,
        tunnel: tunnel.describe(),
      };
      await source.quit();
      this.qemu = destination;
      await destination.qmp.execute('stop'); // idle until its next round
      return sample;
    } catch (error) {
      await destination.quit();
      await source.qmp.execute('stop').catch(() => undefined);
      throw error;
    } finally {
      await rss?.stop();
      await tunnel?.close();
    }
  }

  async destroy(): Promise<void> {
    await this.qemu.quit();
  }
}

async function finalState(qmp: QmpClient): Promise<QueryMigrate> {
  for (let attempt = 0; ; attempt++) {
    const reply = await qmp.execute<QueryMigrate>('query-migrate');
    if (TERMINAL_STATUSES.has(reply.status ?? '') || attempt >= 100) return reply;
    await sleep(50);
  }
}
