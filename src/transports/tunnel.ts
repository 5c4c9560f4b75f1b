// What every tunnel end shares: how it is closed, how it logs, how long a peer may take to prove itself, and
// a refusal log that cannot be flooded (a port scan must not fill agent.log).

export interface TunnelEnd {
  close(): Promise<void>;
}

export type TunnelLog = (message: string) => void;

/** A peer that has not completed its handshake (TLS, or the ssh relay's challenge) by then is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Connections a listener holds at once, proven or not: the expected streams plus this many in handshake. */
export const PENDING_CONNECTIONS = 16;

/**
 * Logs the first `burst` refusals of each window, then one line per window saying how many more were dropped.
 * Pure apart from the injected log and clock.
 */
export function refusalLog(
  log: TunnelLog,
  options: { burst?: number; windowMs?: number; now?: () => number } = {},
): { refused(line: string): void; flush(): void } {
  const burst = options.burst ?? 5;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  let windowStart = now();
  let logged = 0;
  let suppressed = 0;
  const flush = () => {
    if (suppressed > 0) log(`… and ${suppressed} more refused connection(s) not logged one by one`);
    suppressed = 0;
  };
  return {
    refused(line) {
      if (now() - windowStart >= windowMs) {
        flush();
        windowStart = now();
        logged = 0;
      }
      if (logged < burst) {
        logged++;
        log(line);
      } else suppressed++;
    },
    flush,
  };
}
