// `vmig host check`: passes on good hosts (with the path from a source), and for each broken host fails with
// the one line that names the problem and its fix, exit 1.
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type RunResult } from '../../src/lab/lab.js';
import { expectCleanFailure, expectOk } from './support.js';

interface CheckJson {
  ok: boolean;
  hosts: Array<{ host: string; checks: Array<{ name: string; status: string; detail: string; fix?: string }> }>;
}

describe('vmig host check', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2', 'h3'], withoutVmig: ['h3'] });
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  /** Exit 1, the failure line for `host` names the check and its fix, and it is the only failure. */
  function expectFailure(result: RunResult, host: string, check: string, pattern: RegExp): void {
    expectCleanFailure(result, 1, new RegExp(`1 check failed on ${host}$`));
    const lines = result.stderr.split('\n').filter((line) => line.startsWith(`${host}: `));
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${host}: ${check}: `));
    expect(lines[0]).toMatch(pattern);
    expect(result.stdout).toMatch(new RegExp(`${host}\\s+${check}\\s+FAIL`));
  }

  it('good hosts pass, with the path from a source: exit 0, a table and --json', async () => {
    const result = expectOk(await lab.vmig(['host', 'check', 'h1', 'h2', '--from', 'h1']));
    for (const check of [
      'agent',
      'qemu',
      'kvm',
      'state-dir',
      'host-config',
      'migration-port',
      'memory',
      'disk',
      'stream-local',
    ]) {
      expect(result.stdout).toMatch(new RegExp(`h1\\s+${check}\\s+(PASS|WARN)`));
      expect(result.stdout).toMatch(new RegExp(`h2\\s+${check}\\s+(PASS|WARN)`));
    }
    expect(result.stdout).toMatch(
      /h2\s+from h1\s+PASS\s+h1 reaches the migration port 10\.231\.\d+\.12:49152: transport auto picks tls/,
    );
    const json = JSON.parse(expectOk(await lab.vmig(['host', 'check', 'h2', '--json'])).stdout) as CheckJson;
    expect(json.ok).toBe(true);
    expect(json.hosts[0]!.checks.find((check) => check.name === 'qemu')!.detail).toMatch(/qemu-system-x86_64 \d+\.\d+/);
  });

  it('vmig missing → the fix is vmig host install', async () => {
    expectFailure(
      await lab.vmig(['host', 'check', 'h3']),
      'h3',
      'agent',
      /vmig \S+ not found \(install it with: vmig host install h3, or .*; fix: vmig host install h3$/,
    );
  });

  it('QEMU missing from the agent environment', async () => {
    await lab.setHostEnv('h2', { VMIG_QEMU: 'qemu-system-x86_64-absent' });
    try {
      expectFailure(
        await lab.vmig(['host', 'check', 'h2']),
        'h2',
        'qemu',
        /qemu-system-x86_64-absent not found .*; fix: install QEMU/,
      );
    } finally {
      await lab.setHostEnv('h2', { VMIG_QEMU: 'qemu-system-x86_64' });
    }
  });

  it('state dir mode 0777', async () => {
    const dir = lab.hosts.h2!.stateDir;
    await chmod(dir, 0o777);
    try {
      expectFailure(
        await lab.vmig(['host', 'check', 'h2']),
        'h2',
        'state-dir',
        new RegExp(`${dir} is writable by group or others \\(mode 0777\\); fix: chmod go-w ${dir}$`),
      );
    } finally {
      await chmod(dir, 0o700);
    }
  });

  it('bad host.toml', async () => {
    const file = join(lab.hosts.h2!.dir, 'host.toml');
    await writeFile(file, 'migration_ports = "many"\n');
    try {
      expectFailure(
        await lab.vmig(['host', 'check', 'h2']),
        'h2',
        'host-config',
        /migration_ports: .*; fix: correct .*host\.toml/,
      );
    } finally {
      await rm(file, { force: true });
    }
  });

  it('migration port range all taken', async () => {
    const file = join(lab.hosts.h2!.dir, 'host.toml');
    // sshd holds port 22 on the host's address: a range of just that port has no free port.
    await writeFile(file, 'migration_ports = [22, 22]\n');
    try {
      expectFailure(
        await lab.vmig(['host', 'check', 'h2']),
        'h2',
        'migration-port',
        /no free port in 22-22 on 10\.231\.\d+\.12; fix: free a port of the range, or widen migration_ports/,
      );
    } finally {
      await rm(file, { force: true });
    }
  });

  it('--from a source whose path to the migration port is blocked: only ssh', async () => {
    await lab.blockPorts('h2', 49152, 49215);
    try {
      expectFailure(
        await lab.vmig(['host', 'check', 'h2', '--from', 'h1']),
        'h2',
        'from h1',
        /h1 cannot reach the migration port .* only the ssh transport works; fix: open the migration ports/,
      );
    } finally {
      await lab.unblockPorts('h2');
    }
  });
});
