// A controller's live link to one host's agent, however it is carried (SSH exec channel or local child).
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { Client } from 'ssh2';
import { VmigError } from '../errors.js';
import { PROTOCOL_VERSION, type AgentEvent } from '../protocol/messages.js';
import { methods, type Deadline, type Method, type Result } from '../protocol/methods.js';
import { RpcConnection } from '../protocol/rpc.js';
import { checkResult, typedCall, type Call } from '../protocol/table.js';
import { VERSION } from '../version.js';
import type { HostUri } from './uri.js';

/** How often the controller proves it is alive to each agent (the agent gives up after VMIG_AGENT_IDLE_TIMEOUT_MS). */
const PING_INTERVAL_MS = 5_000;

/** The hello's deadline: it also waits for the agent's start-up (node on a loaded host). */
const STARTUP_DEADLINE_MS = 60_000;
/**
 * Longer than any bounded step of the agent (QEMU start 60 s, stop ~11 s, QMP 10 s), so that the agent's own, more
 * precise error arrives first.
 */
const RPC_DEADLINE_MS = 120_000;

/** The deadline of an agent call, as its row of src/protocol/methods.ts says; VMIG_RPC_TIMEOUT_MS overrides `rpc`. */
export function callDeadlineMs(method: Method, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const deadline: Deadline = methods[method].deadline;
  if (deadline === 'none') return undefined;
  if (deadline === 'startup') return STARTUP_DEADLINE_MS;
  return Number(env.VMIG_RPC_TIMEOUT_MS) || RPC_DEADLINE_MS;
}

export type AgentHello = Result<'hello'>;

export interface HostConnection {
  uri: HostUri;
  label: string;
  hello: AgentHello;
  /** The SSH connection, when there is one: the ssh transport opens more channels on it. */
  ssh: Client | undefined;
  events: EventEmitter<{ event: [AgentEvent]; closed: [Error | undefined] }>;
  /** Calls an agent method; params and result are typed (and the result checked) by src/protocol/methods.ts. */
  call: Call;
  close(): Promise<void>;
}

/** Keeps the tail of the agent's stderr, to explain an agent that died or never started. */
export class StderrTail {
  private lines: string[] = [];
  constructor(private readonly onLine?: (line: string) => void) {}
  push(chunk: Buffer): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      this.lines.push(line);
      this.onLine?.(line);
    }
    this.lines = this.lines.slice(-20);
  }
  last(): string | undefined {
    return this.lines.at(-1);
  }
}

/** Wires the agent's stdio to an RpcConnection and performs the versioned hello. */
export async function openAgentSession(options: {
  uri: HostUri;
  label: string;
  stdout: Readable;
  stdin: Writable;
  stderr: StderrTail;
  ssh: Client | undefined;
  close: () => Promise<void>;
  exitInfo: () => string | undefined;
}): Promise<HostConnection> {
  const events = new EventEmitter<{ event: [AgentEvent]; closed: [Error | undefined] }>();
  const rpc = new RpcConnection(options.stdout, options.stdin, {
    peer: options.label,
    onEvent: (event) => events.emit('event', event),
    onClose: (reason) => events.emit('closed', reason),
  });
  let hello: AgentHello;
  try {
    hello = checkResult(
      'hello',
      await rpc.call(
        'hello',
        { protocol: PROTOCOL_VERSION, version: VERSION, label: options.label },
        callDeadlineMs('hello'),
      ),
      options.label,
    );
  } catch (error) {
    await options.close().catch(() => undefined);
    if (error instanceof VmigError && error.code === 'PROTOCOL_MISMATCH') {
      throw new VmigError('PROTOCOL_MISMATCH', `${error.message}; run: vmig host install ${options.uri.text}`, {
        cause: error,
      });
    }
    // The agent ran and refused (unusable state directory …): its own words are the best message.
    if (error instanceof VmigError && error.code !== 'AGENT_FAILED') throw error;
    const detail = options.stderr.last() ?? options.exitInfo() ?? (error as Error).message;
    throw new VmigError('AGENT_FAILED', `the vmig agent on ${options.label} did not start: ${detail}`, {
      exitCode: 3,
      cause: error,
    });
  }
  if (hello.version !== VERSION) {
    await options.close().catch(() => undefined);
    throw new VmigError(
      'PROTOCOL_MISMATCH',
      `${options.label} runs vmig ${hello.version}, this controller is vmig ${VERSION}; install this version there with: vmig host install ${options.uri.text}`,
    );
  }
  // Keeps the agent's watchdog fed; a ping that fails means the link is gone, which the RPC layer reports.
  const heartbeat = setInterval(() => void rpc.call('ping').catch(() => undefined), PING_INTERVAL_MS);
  heartbeat.unref();
  return {
    uri: options.uri,
    label: options.label,
    hello,
    ssh: options.ssh,
    events,
    call: typedCall((method, params) => rpc.call(method, params, callDeadlineMs(method)), options.label),
    close: async () => {
      clearInterval(heartbeat);
      rpc.close();
      await options.close();
    },
  };
}
