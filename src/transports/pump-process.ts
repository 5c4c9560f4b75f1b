// A pump process (see pumps.ts): started by an agent, it carries the tls stream sockets the agent hands it and
// reports back over its IPC channel. It holds no decision of its own and exits as soon as its agent lets go.
import type { Socket } from 'node:net';
import type { FromPump, ToPump } from './pumps.js';
import type { StreamId } from './streams.js';
import { acceptIncoming, carryOutgoing, type ClaimAnswer, type IncomingSpec, type StreamReport } from './tls-stream.js';

const send = (message: FromPump): void => void (process.connected && process.send!(message));
const streams = new Map<number, { destroy(): void }>();
const claims = new Map<number, (answer: ClaimAnswer) => void>();
/** Streams some pump of this agent has already delivered: a handshake for one of them is refused at once. */
const taken = new Set<StreamId>();
let incoming: IncomingSpec | undefined;

process.on('message', (message: ToPump, handle?: Socket) => {
  // Each direction of a stream ends on its own (see splice.ts); a handed-over socket starts without that, and a
  // TLS socket that wraps it takes the setting from it.
  if (handle) handle.allowHalfOpen = true;
  switch (message.type) {
    case 'carry-out': {
      const { conn } = message;
      streams.set(
        conn,
        carryOutgoing(handle!, message.spec, (report) => send({ type: 'report', conn, report })),
      );
      return;
    }
    case 'serve-in':
      incoming = message.spec;
      return;
    case 'accept-in': {
      const { conn } = message;
      if (!incoming) return void handle?.destroy();
      const claim = (stream: StreamId) =>
        new Promise<ClaimAnswer>((resolve) => {
          claims.set(conn, resolve);
          send({ type: 'claim', conn, stream });
        });
      const report = (report: StreamReport) => {
        if (report.type === 'gone') streams.delete(conn);
        send({ type: 'report', conn, report });
      };
      streams.set(conn, acceptIncoming(handle!, incoming, taken, claim, report));
      return;
    }
    case 'claimed':
      claims.get(message.conn)?.(message.answer);
      claims.delete(message.conn);
      return;
    case 'taken':
      taken.add(message.stream);
      return;
  }
});

// The agent closed the migration's tunnel end, or died: nothing of it may go on.
process.on('disconnect', () => {
  for (const stream of streams.values()) stream.destroy();
  process.exit(0);
});

send({ type: 'ready' });
