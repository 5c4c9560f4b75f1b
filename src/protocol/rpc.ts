// A symmetric RPC endpoint over any pair of byte streams: the controller calls methods and receives events,
// the agent serves methods and emits events. The same code runs over an SSH exec channel and a child's stdio.
import type { Readable, Writable } from 'node:stream';
import { VmigError, errorFromWire, isVmigError } from '../errors.js';
import { FramingError, LineDecoder, encodeLine } from './framing.js';
import { classifyMessage, type AgentEvent } from './messages.js';

export type Handler = (params: unknown, context: { signal: AbortSignal }) => Promise<unknown>;

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export interface RpcOptions {
  /** A label for messages ("h1", "local"). */
  peer: string;
  handlers?: Record<string, Handler>;
  onEvent?: (event: AgentEvent) => void;
  /** Called once when the input ends or breaks: the peer is gone. */
  onClose?: (reason: Error | undefined) => void;
  /** The method that opens the session (the agent's hello): nothing else is served before it has succeeded. */
  opening?: string;
}

export class RpcConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new LineDecoder();
  private closed: Error | undefined;
  private readonly inFlight = new AbortController();
  private readonly serving = new Set<Promise<void>>();
  private opened = false;

  constructor(
    input: Readable,
    private readonly output: Writable,
    private readonly options: RpcOptions,
  ) {
    input.on('data', (chunk: Buffer) => this.receive(chunk));
    input.on('end', () => this.close(new VmigError('AGENT_FAILED', `connection to ${options.peer} closed`)));
    input.on('error', (error) =>
      this.close(new VmigError('AGENT_FAILED', `connection to ${options.peer} failed: ${error.message}`)),
    );
    output.on('error', (error) =>
      this.close(new VmigError('AGENT_FAILED', `connection to ${options.peer} failed: ${error.message}`)),
    );
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /** Calls `method`; with `timeoutMs`, a peer that has not answered by then fails the call (a late answer is dropped). */
  call<T = unknown>(method: string, params?: unknown, timeoutMs?: number): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settled =
        <A>(action: (value: A) => void) =>
        (value: A) => {
          clearTimeout(timer);
          action(value);
        };
      this.pending.set(id, { method, resolve: settled(resolve as (v: unknown) => void), reject: settled(reject) });
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          this.pending.delete(id);
          reject(
            new VmigError(
              'AGENT_FAILED',
              `${this.options.peer} did not answer ${method} within ${Number((timeoutMs / 1000).toFixed(1))} s`,
            ),
          );
        }, timeoutMs);
      }
      this.output.write(encodeLine({ id, method, params }));
    });
  }

  emit(event: string, data: unknown): void {
    if (this.closed) return;
    this.output.write(encodeLine({ event, data }));
  }

  /** Marks the connection dead: pending calls fail, running handlers see their signal abort. */
  close(reason?: Error): void {
    if (this.closed) return;
    this.closed = reason ?? new VmigError('AGENT_FAILED', `connection to ${this.options.peer} closed`);
    this.decoder.close();
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(this.closed);
    }
    this.inFlight.abort(this.closed);
    this.options.onClose?.(reason);
  }

  /** Waits (bounded) for the handlers still running: what they set up must be known before acting on a close. */
  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.serving]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private receive(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (value) => this.dispatch(value));
    } catch (error) {
      if (!(error instanceof FramingError)) throw error;
      // The requests before the bad line were dispatched: let them answer, then hang up (the decoder reads no more).
      const reason = new VmigError(
        'PROTOCOL_MISMATCH',
        `${this.options.peer} spoke something other than the vmig protocol (${error.message})`,
      );
      void this.drain(5_000).then(() => this.close(reason));
    }
  }

  private dispatch(value: unknown): void {
    const message = classifyMessage(value);
    if (!message) return;
    if (message.kind === 'response') {
      const { response } = message;
      const pending = this.pending.get(response.id);
      if (!pending) return;
      this.pending.delete(response.id);
      if ('error' in response) pending.reject(errorFromWire(response.error, this.options.peer));
      else pending.resolve(response.result);
    } else if (message.kind === 'event') {
      this.options.onEvent?.(message.event);
    } else {
      const serving = this.serve(message.request.id, message.request.method, message.request.params);
      this.serving.add(serving);
      void serving.finally(() => this.serving.delete(serving));
    }
  }

  private async serve(id: number, method: string, params: unknown): Promise<void> {
    const handlers = this.options.handlers;
    const handler = handlers && Object.hasOwn(handlers, method) ? handlers[method] : undefined;
    const opening = this.options.opening;
    try {
      if (!handler) throw new VmigError('PROTOCOL_MISMATCH', `unknown method ${method}`);
      if (opening !== undefined && !this.opened && method !== opening) {
        throw new VmigError('PROTOCOL_MISMATCH', `${method} before a successful ${opening}: refused`);
      }
      const result = await handler(params, { signal: this.inFlight.signal });
      if (method === opening) this.opened = true;
      if (!this.closed) this.output.write(encodeLine({ id, result: result ?? null }));
    } catch (error) {
      if (this.closed) return;
      const wire = isVmigError(error)
        ? error.toJSON()
        : { code: 'INTERNAL', message: `${method}: ${(error as Error)?.message ?? String(error)}` };
      this.output.write(encodeLine({ id, error: wire }));
    }
  }
}
