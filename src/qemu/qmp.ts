// A QMP client over QEMU's unix socket: connect, negotiate capabilities, execute, listen to events.
import { createConnection, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { QmpProtocol, QmpTimeoutError, type QmpEvent } from './qmp-protocol.js';

export interface QmpConnectOptions {
  /** QEMU serves one client per monitor socket; a second client waits, so waiting is bounded. */
  timeoutMs?: number;
  /** The deadline of each command (default qmpCommandTimeoutMs()); 0: none. */
  commandTimeoutMs?: number;
}

/**
 * Every QMP command has a deadline: a QEMU stuck on storage answers nothing, and a caller must not wait forever.
 * QMP commands return at once (long work runs as jobs and events), so 10 s is generous; VMIG_QMP_TIMEOUT_MS overrides.
 */
export const qmpCommandTimeoutMs = (env: NodeJS.ProcessEnv = process.env): number =>
  Number(env.VMIG_QMP_TIMEOUT_MS) || 10_000;

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly protocol: QmpProtocol,
    private readonly commandTimeoutMs: number,
  ) {
    super();
  }

  static connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      let client: QmpClient | undefined;
      const timer = setTimeout(() => {
        socket.destroy();
        // No greeting: stopped or stuck, or busy with another client.
        reject(new QmpTimeoutError('the connection', timeoutMs));
      }, timeoutMs);
      const protocol = new QmpProtocol(
        (text) => socket.write(text),
        (event) => client?.emit('event', event),
        () => {
          protocol
            .execute('qmp_capabilities', undefined, timeoutMs)
            .then(() => {
              clearTimeout(timer);
              resolve(client!);
            })
            .catch((error: Error) => {
              clearTimeout(timer);
              socket.destroy();
              reject(error);
            });
        },
      );
      client = new QmpClient(socket, protocol, options.commandTimeoutMs ?? qmpCommandTimeoutMs());
      socket.on('data', (chunk: Buffer) => {
        try {
          protocol.receive(chunk);
        } catch (error) {
          socket.destroy(error as Error);
        }
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        protocol.fail(error);
        reject(error);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        client!.closed = true;
        protocol.fail(new Error('QEMU monitor connection closed'));
        client!.emit('close');
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    // A command on a closed socket would otherwise wait forever for its reply.
    if (this.closed) return Promise.reject(new Error(`QEMU monitor connection closed (${command})`));
    return this.protocol.execute(command, args, options.timeoutMs ?? this.commandTimeoutMs) as Promise<T>;
  }

  /** Resolves on the first event matching `predicate`, or rejects after `timeoutMs` / when the socket closes. */
  waitForEvent(predicate: (event: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (event: QmpEvent) => {
        if (!predicate(event)) return;
        cleanup();
        resolve(event);
      };
      const onClose = () => {
        cleanup();
        reject(new Error('QEMU monitor connection closed'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a QEMU event`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/** Connects, runs one command, disconnects; `timeoutMs` bounds each of the two steps. */
export async function qmpOnce<T = unknown>(
  path: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutMs = 5_000,
): Promise<T> {
  let client: QmpClient;
  try {
    client = await QmpClient.connect(path, { timeoutMs, commandTimeoutMs: timeoutMs });
  } catch (error) {
    // Name the command the caller asked for, not the handshake.
    if (error instanceof QmpTimeoutError) throw new QmpTimeoutError(command, timeoutMs);
    throw error;
  }
  try {
    return await client.execute<T>(command, args);
  } finally {
    client.close();
  }
}
