// Pump processes: an agent carries each tls stream in a child process of its own (pump-process.ts), so that the
// streams of one migration (ram, N multifd channels, disks) encrypt on as many cores as the host has, and a
// stream's bytes never compete with the agent's own event loop (QMP, RPC, progress). The agent keeps every
// decision (which stream is whose, each taken once, when to stop listening); a pump only moves bytes.
//
// The agent accepts a connection and hands its socket to a pump over the IPC channel (the file descriptor moves,
// not the bytes). Keys reach a pump over that channel too, never through argv or the environment. A pump exits
// when its agent disconnects (or dies), so no pump outlives the migration or its agent.
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { StreamId } from './streams.js';
import type { ClaimAnswer, IncomingSpec, OutgoingSpec, StreamReport } from './tls-stream.js';

/** Agent → pump. A socket travels with carry-out and accept-in. */
export type ToPump =
  | { type: 'carry-out'; conn: number; spec: OutgoingSpec }
  | { type: 'serve-in'; spec: IncomingSpec }
  | { type: 'accept-in'; conn: number }
  | { type: 'claimed'; conn: number; answer: ClaimAnswer }
  | { type: 'taken'; stream: StreamId };

/** Pump → agent. */
export type FromPump =
  | { type: 'ready' }
  | { type: 'report'; conn: number; report: StreamReport }
  | { type: 'claim'; conn: number; stream: StreamId };

export interface PumpHandlers {
  report(conn: number, report: StreamReport): void;
  /** Destination: a pump proved a stream; the answer says where it goes, or why it is dropped. */
  claim?(conn: number, stream: StreamId): ClaimAnswer | Promise<ClaimAnswer>;
  /** A pump died while it carried `conns` (killed, out of memory …): their streams are broken. */
  exited(how: string, conns: number[]): void;
}

export const PUMP_NODE_FLAGS = ['--single-threaded-gc'];
/** How long a pump may take to start; a host that cannot start one in this time cannot migrate either. */
const START_TIMEOUT_MS = 15_000;
/** On close, a pump that has not exited after its agent let go of it by then is killed. */
const EXIT_GRACE_MS = 2_000;

/**
 * The compiled pump script next to this module. Run from the TypeScript sources (the unit tests), this module
 * uses the build's copy: a pump is always the same compiled code an agent on a host runs.
 */
function pumpScript(): string {
  const here = fileURLToPath(new URL('./pump-process.js', import.meta.url));
  if (!import.meta.url.endsWith('.ts')) return here;
  const built = fileURLToPath(new URL('../../dist/transports/pump-process.js', import.meta.url));
  if (!existsSync(built)) throw new Error(`no build of the pump process at ${built}: run npm run build`);
  return built;
}

interface Pump {
  proc: ChildProcess;
  conns: Set<number>;
  exited: boolean;
}

export class PumpProcesses {
  private nextConn = 1;
  private closing = false;

  private constructor(
    private readonly pumps: Pump[],
    private readonly handlers: PumpHandlers,
  ) {
    for (const pump of pumps) {
      pump.proc.on('message', (message: FromPump) => this.receive(pump, message));
      pump.proc.once('exit', (code, signal) => {
        pump.exited = true;
        const conns = [...pump.conns];
        pump.conns.clear();
        if (!this.closing) handlers.exited(signal ? `killed by ${signal}` : `exit code ${code}`, conns);
      });
    }
  }

  /** Starts `count` pumps and waits until each is ready to take sockets. */
  static async start(count: number, handlers: PumpHandlers): Promise<PumpProcesses> {
    const script = pumpScript();
    const procs = Array.from({ length: count }, () =>
      // stdout is the agent's RPC channel: a pump never writes there. --single-threaded-gc as bin/vmig sets it
      // for every vmig process: a pump allocates a buffer per chunk, and parallel GC threads would fight QEMU.
      fork(script, [], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        execArgv: PUMP_NODE_FLAGS,
        serialization: 'json',
      }),
    );
    try {
      await Promise.all(procs.map(ready));
    } catch (error) {
      for (const proc of procs) proc.kill('SIGKILL');
      throw error;
    }
    return new PumpProcesses(
      procs.map((proc) => ({ proc, conns: new Set<number>(), exited: false })),
      handlers,
    );
  }

  /** The pumps' process ids, for logs and the benchmark's CPU accounting. */
  get pids(): number[] {
    return this.pumps.map((pump) => pump.proc.pid!);
  }

  /** Connections the pumps hold now (proven or in handshake). */
  get active(): number {
    return this.pumps.reduce((sum, pump) => sum + pump.conns.size, 0);
  }

  /**
   * Hands a connection to pump `index`, or to the least busy one. Returns the connection's number, or undefined
   * when no pump can take it (the socket is then destroyed).
   */
  hand(message: { type: 'carry-out'; spec: OutgoingSpec } | { type: 'accept-in' }, socket: Socket, index?: number) {
    const alive = this.pumps.filter((pump) => !pump.exited && pump.proc.connected);
    const pump =
      index !== undefined
        ? this.pumps[index]
        : alive.reduce<Pump | undefined>((best, p) => (!best || p.conns.size < best.conns.size ? p : best), undefined);
    if (!pump || pump.exited || !pump.proc.connected || this.closing) {
      socket.destroy();
      return undefined;
    }
    const conn = this.nextConn++;
    pump.conns.add(conn);
    pump.proc.send({ ...message, conn } satisfies ToPump, socket, (error) => {
      if (error) {
        pump.conns.delete(conn);
        socket.destroy();
        this.handlers.report(conn, { type: 'failure', text: `could not hand a stream to its pump: ${error.message}` });
      }
    });
    return conn;
  }

  broadcast(message: ToPump): void {
    for (const pump of this.pumps) if (!pump.exited && pump.proc.connected) pump.proc.send(message);
  }

  /** Lets go of every pump: each destroys its streams and exits; one that does not is killed. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.pumps.map(async ({ proc, exited }) => {
        if (exited || proc.exitCode !== null || proc.signalCode !== null) return;
        const gone = new Promise((resolve) => proc.once('exit', resolve));
        if (proc.connected) proc.disconnect();
        const timer = setTimeout(() => proc.kill('SIGKILL'), EXIT_GRACE_MS);
        await gone;
        clearTimeout(timer);
      }),
    );
  }

  private receive(pump: Pump, message: FromPump): void {
    if (message.type === 'report') {
      if (message.report.type === 'gone') pump.conns.delete(message.conn);
      this.handlers.report(message.conn, message.report);
    } else if (message.type === 'claim') {
      void Promise.resolve(
        this.handlers.claim?.(message.conn, message.stream) ?? { refused: 'this end takes no streams' },
      ).then((answer) => {
        if (pump.proc.connected) pump.proc.send({ type: 'claimed', conn: message.conn, answer } satisfies ToPump);
      });
    }
  }
}

function ready(proc: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('a pump process did not start in time')), START_TIMEOUT_MS);
    proc.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not start a pump process: ${error.message}`));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`a pump process exited while starting (${signal ?? `exit code ${code}`})`));
    });
    proc.once('message', (message: FromPump) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve();
    });
  });
}
