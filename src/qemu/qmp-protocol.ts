// QMP without I/O: takes the lines QEMU sends, matches replies to commands, surfaces events.
// The socket wiring lives in qmp.ts, so this part is unit-tested by feeding bytes.
import { LineDecoder, encodeLine } from '../protocol/framing.js';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export class QmpCommandError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    description: string,
  ) {
    super(`${command}: ${description}`);
    this.name = 'QmpCommandError';
  }
}

/** QEMU did not answer a command in time (a QEMU stuck on storage, or stopped, answers nothing). */
export class QmpTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`QEMU did not answer ${command} within ${formatSeconds(timeoutMs)}`);
    this.name = 'QmpTimeoutError';
  }
}

export const formatSeconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

interface Waiting {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class QmpProtocol {
  private readonly decoder = new LineDecoder();
  private readonly waiting = new Map<string, Waiting>();
  private nextId = 1;
  private greeted = false;
  greeting: unknown;

  constructor(
    private readonly write: (text: string) => void,
    private readonly onEvent: (event: QmpEvent) => void,
    private readonly onGreeting: () => void,
  ) {}

  /** Sends a command; settles with QEMU's `return`, a QmpCommandError, or a QmpTimeoutError after `timeoutMs` (0: none). */
  execute(command: string, args?: Record<string, unknown>, timeoutMs = 0): Promise<unknown> {
    const id = `vmig-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (action: () => void) => {
        clearTimeout(timer);
        action();
      };
      this.waiting.set(id, {
        command,
        resolve: (value) => settle(() => resolve(value)),
        reject: (error) => settle(() => reject(error)),
      });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          // A late reply finds nobody waiting and is dropped.
          this.waiting.delete(id);
          reject(new QmpTimeoutError(command, timeoutMs));
        }, timeoutMs);
      }
      this.write(encodeLine(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }));
    });
  }

  /** Feeds bytes from QEMU. */
  receive(chunk: Buffer | string): void {
    this.decoder.push(chunk, (message) => this.dispatch(message as Record<string, unknown>));
  }

  /** Fails everything still waiting (the socket closed). */
  fail(error: Error): void {
    for (const [id, waiting] of this.waiting) {
      this.waiting.delete(id);
      waiting.reject(error);
    }
  }

  private dispatch(message: Record<string, unknown>): void {
    if (!this.greeted && 'QMP' in message) {
      this.greeted = true;
      this.greeting = message.QMP;
      this.onGreeting();
      return;
    }
    if (typeof message.event === 'string') {
      this.onEvent(message as unknown as QmpEvent);
      return;
    }
    const id = typeof message.id === 'string' ? message.id : undefined;
    const waiting = id === undefined ? undefined : this.waiting.get(id);
    if (!waiting || id === undefined) return;
    this.waiting.delete(id);
    if ('error' in message) {
      const error = message.error as { class?: string; desc?: string };
      waiting.reject(new QmpCommandError(waiting.command, error.class ?? 'GenericError', error.desc ?? 'failed'));
    } else {
      waiting.resolve(message.return);
    }
  }
}
