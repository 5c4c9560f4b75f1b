// One command on an SSH connection's exec channel, without an agent: what `vmig host install` needs before
// there is a vmig on the host. Output is bounded; stdin may be a stream (a tarball) or nothing.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client, ClientChannel } from 'ssh2';

export interface RemoteResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const LIMIT = 64 * 1024;

export function remoteExec(
  client: Client,
  command: string,
  stdin?: Readable,
  timeoutMs = 300_000,
): Promise<RemoteResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel: ClientChannel) => {
      if (error) return reject(error);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      const timer = setTimeout(() => channel.close(), timeoutMs);
      channel.on('data', (chunk: Buffer) => {
        if (stdout.length < LIMIT) stdout += chunk.toString('utf8');
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < LIMIT) stderr += chunk.toString('utf8');
      });
      channel.on('exit', (exitCode: number | null) => {
        code = exitCode;
      });
      channel.on('close', () => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      if (stdin) pipeline(stdin, channel).catch(() => channel.close());
      else channel.end();
    });
  });
}

/** `key=value` lines into a record (the probe scripts print them). */
export function parseKeyValues(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return values;
}
