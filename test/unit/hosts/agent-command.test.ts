import { describe, expect, it } from 'vitest';
import { installedAgentCommand } from '../../../src/hosts/install-layout.js';
import { agentCommand } from '../../../src/hosts/ssh.js';
import { VERSION } from '../../../src/version.js';

describe('agentCommand', () => {
  it('runs vmig from the PATH, or the given path quoted for the remote shell', () => {
    expect(agentCommand(undefined)).toBe(installedAgentCommand(VERSION));
    expect(agentCommand(undefined)).toMatch(/lib\/vmig.*command -v vmig >\/dev\/null 2>&1; then exec vmig agent/);
    expect(agentCommand('/opt/vmig/bin/vmig')).toBe("'/opt/vmig/bin/vmig' agent");
  });

  it('refuses a path a shell would expand, even when it did not come through a URI', () => {
    expect(() => agentCommand('/{usr/bin/touch,tmp/x}')).toThrow(/must be an absolute path of letters, digits/);
    expect(() => agentCommand("/opt/x' ; id ; '")).toThrow(/must be an absolute path/);
  });
});
