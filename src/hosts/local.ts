// `local`: the agent as a child process of the controller, speaking the same protocol as over SSH.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { openAgentSession, StderrTail, type HostConnection } from './connection.js';
import type { HostUri } from './uri.js';

/** bin/vmig of this installation. */
export const vmigBinPath = (): string => fileURLToPath(new URL('../../bin/vmig', import.meta.url));

export async function connectLocal(
  uri: Extract<HostUri, { kind: 'local' }>,
  onAgentLog?: (line: string) => void,
): Promise<HostConnection> {
  const binary = uri.vmigPath ?? vmigBinPath();
  // cleanup: false — the agent must outlive a killed controller long enough to make its migration safe.
  const child = execa(binary, ['agent'], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    cleanup: false,
    reject: false,
    env: { VMIG_HOST_LABEL: 'local' },
  });
  const stderr = new StderrTail(onAgentLog);
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  let exitInfo: string | undefined;
  void child.then((result) => {
    exitInfo = `agent exited with code ${result.exitCode ?? result.signal}`;
  });
  return openAgentSession({
    uri,
    label: 'local',
    stdout: child.stdout,
    stdin: child.stdin,
    stderr,
    ssh: undefined,
    exitInfo: () => exitInfo,
    close: async () => {
      child.stdin.end();
      await Promise.race([child, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    },
  });
}
