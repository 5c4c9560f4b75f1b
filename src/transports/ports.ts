// Choosing a listening port inside the configured migration range.
import { createServer } from 'node:net';

export { DEFAULT_PORT_RANGE } from './constants.js';

/** Whether `port` can be bound on `host` right now (another process may still take it before we do). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Tries each free port of the range with `bind` until one succeeds; throws the last failure if none does. */
export async function bindInRange<T>(
  host: string,
  range: [number, number],
  bind: (port: number) => Promise<T>,
): Promise<T> {
  let lastError: Error | undefined;
  for (let port = range[0]; port <= range[1]; port++) {
    if (!(await portFree(host, port))) continue;
    try {
      return await bind(port);
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError ?? new Error(`no free port in ${range[0]}-${range[1]} on ${host}`);
}
