// Shared by the tunnel unit tests: a stand-in for the receiving QEMU, and a bounded wait.
import { createServer, type Server, type Socket } from 'node:net';

/** A stand-in for the receiving QEMU: records every connection and the bytes it got, and answers "ack". */
export async function fakeQemu(
  path: string,
): Promise<{ server: Server; connections: Socket[]; received: () => Buffer; firstBytes: () => string[] }> {
  const connections: Socket[] = [];
  const chunks: Buffer[] = [];
  const firsts: string[] = [];
  const server = createServer((socket) => {
    const index = connections.push(socket) - 1;
    firsts[index] = '';
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      firsts[index] = (firsts[index]! + chunk.toString('latin1')).slice(0, 16);
    });
    socket.write('ack');
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, connections, received: () => Buffer.concat(chunks), firstBytes: () => [...firsts] };
}

/** Polls `check` every 20 ms; throws after `ms`. */
export const waitFor = async (check: () => boolean, ms = 5_000): Promise<void> => {
  for (const start = Date.now(); !check(); ) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
