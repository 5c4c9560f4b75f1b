import { describe, expect, it } from 'vitest';
import { agentCommand } from '../../../src/hosts/ssh.js';

describe('agentCommand', () => {
  it('runs vmig from the PATH, or the given path quoted for the remote shell', () => {
    expect(agentCommand(undefined)).toBe('vmig agent');
    expect(agentCommand('/opt/vmig/bin/vmig')).toBe("'/opt/vmig/bin/vmig' agent");
  });

  it('refuses a path a shell would expand, even when it did not come through a URI', () => {
    expect(() => agentCommand('/{usr/bin/touch,tmp/x}')).toThrow(/must be an absolute path of letters, digits/);
    expect(() => agentCommand("/opt/x' ; id ; '")).toThrow(/must be an absolute path/);
  });
});
