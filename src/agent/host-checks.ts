// Agent side of `vmig host check` (and of `migrate --dry-run`'s port check): facts about this host, judged
// into check results, and short-lived listeners that let the controller test what can reach this host.
// A listener accepts and drops connections, lives at most 60 s and closes with the session.
import { mkdtemp, readFile, rm, stat, statfs } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { VmigError } from '../errors.js';
import {
  fail,
  judgeDisk,
  judgeMemory,
  judgeStateDir,
  pass,
  warn,
  type CheckResult,
  type DirFacts,
} from '../hostcheck/checks.js';
import { probeKvm, qemuBinary, qemuVersion } from '../qemu/process.js';
import type { Endpoint } from '../transports/cookie.js';
import { DEFAULT_PORT_RANGE, bindInRange } from '../transports/ports.js';
import { probeTcp } from '../transports/probe.js';
import type { ParsedParams } from '../protocol/methods.js';
import type { HandlerGroup } from '../protocol/table.js';
import type { AgentContext } from './context.js';
import { DEFAULT_HOST_CONFIG, loadHostConfig, type HostConfig } from './host-config.js';

const LISTENER_LIFETIME_MS = 60_000;

async function dirFacts(path: string): Promise<DirFacts> {
  try {
    const info = await stat(path);
    return { path, exists: true, uid: info.uid, mode: info.mode };
  } catch {
    return { path, exists: false };
  }
}

const localAddresses = (): Set<string> =>
  new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address)));

/** Where this host listens for incoming migrations, as Prepare would choose it. */
export function migrationAddress(context: AgentContext, config: HostConfig, listenAddress?: string): string {
  return listenAddress ?? config.migration_address ?? context.arrivalAddress ?? '127.0.0.1';
}

async function memAvailableBytes(): Promise<number> {
  const meminfo = await readFile('/proc/meminfo', 'utf8');
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0) * 1024;
}

export type HostCheckMethod = 'host.check' | 'host.listen' | 'host.listen-unix' | 'host.unlisten' | 'host.probe-tcp';

export function hostCheckHandlers(context: AgentContext): {
  handlers: HandlerGroup<HostCheckMethod>;
  closeAll(): Promise<void>;
} {
  const listeners = new Map<string, { server: Server; timer: NodeJS.Timeout; dir?: string }>();
  let nextId = 1;

  async function close(id: string): Promise<void> {
    const entry = listeners.get(id);
    if (!entry) return;
    listeners.delete(id);
    clearTimeout(entry.timer);
    await new Promise<void>((resolve) => entry.server.close(() => resolve()));
    if (entry.dir) await rm(entry.dir, { recursive: true, force: true });
  }

  function keep(server: Server, dir?: string): string {
    const id = String(nextId++);
    // Connections are accepted and dropped: a probe only proves that the path is open.
    server.on('connection', (socket) => socket.destroy());
    const timer = setTimeout(() => void close(id), LISTENER_LIFETIME_MS);
    timer.unref();
    listeners.set(id, { server, timer, ...(dir ? { dir } : {}) });
    return id;
  }

  async function checks(options: ParsedParams<'host.check'>): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    const qemu = await qemuVersion();
    results.push(
      qemu === 'unavailable'
        ? fail(
            'qemu',
            `${qemuBinary()} not found or does not run`,
            'install QEMU (Debian/Ubuntu: apt install qemu-system-x86), or name it with VMIG_QEMU in the agent environment',
          )
        : pass('qemu', `${qemuBinary()} ${qemu}`),
    );
    if (qemu !== 'unavailable') {
      const kvm = await probeKvm();
      const device = await dirFacts('/dev/kvm');
      results.push(
        kvm
          ? pass('kvm', 'KVM usable (QEMU initialised it)')
          : device.exists
            ? warn(
                'kvm',
                '/dev/kvm exists but QEMU cannot initialise KVM (nested virtualisation, permissions): guests run under TCG, slowly',
                'enable virtualisation for this host, or accept TCG (accel "tcg")',
              )
            : pass('kvm', 'no KVM: guests run under TCG (accel "auto" falls back to it)'),
      );
    }
    const { state } = context;
    results.push(
      judgeStateDir(
        await dirFacts(state.root),
        await Promise.all([state.runDir, state.journalDir].map(dirFacts)),
        process.getuid?.() ?? 0,
      ),
    );
    let config: HostConfig | undefined;
    const configPath = process.env.VMIG_HOST_CONFIG || DEFAULT_HOST_CONFIG;
    try {
      config = await loadHostConfig();
      results.push(
        pass(
          'host-config',
          (await dirFacts(configPath)).exists ? `${configPath} valid` : `${configPath} absent: defaults`,
        ),
      );
    } catch (error) {
      results.push(
        fail(
          'host-config',
          (error as Error).message,
          `correct ${configPath} (keys: migration_address, migration_ports, guest_memory_limit_mib, memory_headroom_mib)`,
        ),
      );
    }
    if (config) {
      const address = migrationAddress(context, config, options.listenAddress);
      const range = options.portRange ?? config.migration_ports ?? DEFAULT_PORT_RANGE;
      if (!localAddresses().has(address) && address !== '0.0.0.0' && address !== '::') {
        results.push(
          fail(
            'migration-port',
            `migration address ${address} is not an address of this host`,
            'set migration_address in host.toml to one of its addresses',
          ),
        );
      } else {
        try {
          const free = await bindInRange(address, range, (candidate) => Promise.resolve(candidate));
          results.push(pass('migration-port', `${address}:${free} free (range ${range[0]}-${range[1]})`));
        } catch {
          results.push(
            fail(
              'migration-port',
              `no free port in ${range[0]}-${range[1]} on ${address}`,
              'free a port of the range, or widen migration_ports in host.toml',
            ),
          );
        }
      }
      results.push(judgeMemory(await memAvailableBytes(), config.memory_headroom_mib));
    }
    try {
      const fs = await statfs(state.root);
      results.push(judgeDisk(state.root, fs.bavail * fs.bsize));
    } catch (error) {
      results.push(
        fail(
          'disk',
          `cannot stat ${state.root}: ${(error as Error).message}`,
          'create the state directory (vmig creates it on first use when it can)',
        ),
      );
    }
    return results;
  }

  const handlers: HandlerGroup<HostCheckMethod> = {
    async 'host.check'(params) {
      return { checks: await checks(params), node: process.version };
    },

    /** Listens on the migration address, on a free port of the range, as Prepare would. */
    async 'host.listen'(options) {
      const config = await loadHostConfig();
      const host = migrationAddress(context, config, options.listenAddress);
      const range = options.portRange ?? config.migration_ports ?? DEFAULT_PORT_RANGE;
      let server: Server | undefined;
      const endpoint = await bindInRange<Endpoint>(host, range, (candidate) => {
        const attempt = createServer();
        return new Promise((resolve, reject) => {
          attempt.once('error', reject);
          attempt.listen({ host, port: candidate, exclusive: true }, () => {
            server = attempt;
            resolve({ host, port: candidate });
          });
        });
      }).catch(() => {
        throw new VmigError(
          'HOST_UNSUITABLE',
          `${context.host} has no free migration port in ${range[0]}-${range[1]} on ${host}`,
        );
      });
      return { id: keep(server!), endpoint };
    },

    /** A unix socket for the controller to reach through sshd's stream-local forwarding (the ssh transport's path). */
    async 'host.listen-unix'() {
      await context.state.ensure();
      const dir = await mkdtemp(join(context.state.runDir, 'check-'));
      const path = join(dir, 's');
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      return { id: keep(server, dir), path };
    },

    async 'host.unlisten'({ id }) {
      await close(id);
      return {};
    },

    /** From this host: does a TCP connection to the endpoint open? */
    async 'host.probe-tcp'({ endpoint, timeoutMs }) {
      return probeTcp(endpoint, timeoutMs);
    },
  };
  // For the session's end: no listener outlives its controller.
  const closeAll = async (): Promise<void> => {
    await Promise.all([...listeners.keys()].map(close));
  };
  return { handlers, closeAll };
}
