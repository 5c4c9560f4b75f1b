// The agent command runs in a real sh: the versioned install wins over the PATH, the PATH is the fallback,
// and nothing at all exits 127 (which the controller turns into "vmig host install HOST").
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installedAgentCommand, assertVersionWord, shellQuote } from '../../../src/hosts/install-layout.js';

const dir = mkdtempSync(join(tmpdir(), 'vmig-layout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeVmig(path: string, says: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `#!/bin/sh\necho "${says} $*"\n`);
  chmodSync(path, 0o755);
}

const run = (env: Record<string, string>) =>
  spawnSync('/bin/sh', ['-c', installedAgentCommand('9.8.7')], {
    env: { HOME: join(dir, 'home'), ...env },
    encoding: 'utf8',
  });

describe('agent command', () => {
  it('prefers the installed version, then the PATH, else exits 127', () => {
    const pathDir = join(dir, 'pathbin');
    fakeVmig(join(pathDir, 'vmig'), 'path');
    const systemPath = '/usr/bin:/bin';
    expect(run({ PATH: `${pathDir}:${systemPath}` }).stdout.trim()).toBe('path agent');
    fakeVmig(join(dir, 'lib', '9.8.7', 'bin', 'vmig'), 'installed');
    expect(run({ PATH: `${pathDir}:${systemPath}`, VMIG_INSTALL_DIR: join(dir, 'lib') }).stdout.trim()).toBe(
      'installed agent',
    );
    // Another version's directory is not used.
    expect(run({ PATH: systemPath, VMIG_INSTALL_DIR: join(dir, 'other') }).status).toBe(127);
    fakeVmig(join(dir, 'home', '.local', 'lib', 'vmig', '9.8.7', 'bin', 'vmig'), 'home');
    expect(run({ PATH: systemPath }).stdout.trim()).toBe('home agent');
  });

  it('quotes and refuses odd versions', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
    expect(() => assertVersionWord('1.0; rm -rf /')).toThrow();
  });
});
