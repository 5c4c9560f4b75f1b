// Errors that must not mislead, through the real CLI against a lab host: missing files before QEMU starts, QEMU's own
// error instead of its warnings, commander's parse errors, and a QEMU that stops answering (deadlines).
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import { GUEST_KERNEL, expectCleanFailure, expectOk, qemuPids } from './support.js';

describe('start errors and deadlines', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1'] });
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  async function domainFile(name: string, fields: Record<string, unknown>): Promise<string> {
    const path = join(lab.dir, `${name}.json`);
    await writeFile(
      path,
      JSON.stringify({ name, memoryMiB: 64, vcpus: 1, machine: 'pc', accel: 'tcg', kernel: GUEST_KERNEL, ...fields }),
    );
    return path;
  }

  it('define warns about a missing kernel; start refuses it with exit 2, naming the file, nothing started', async () => {
    const missing = join(lab.dir, 'no-such-kernel.bin');
    const defined = expectOk(await lab.vmig(['-c', 'h1', 'define', await domainFile('x1', { kernel: missing })]));
    expect(defined.stderr).toBe(
      `warning: h1 lacks ${missing}, which domain x1 needs: it cannot start there until the file exists\n`,
    );
    expect(defined.stdout).toMatch(/^Domain x1 defined/);
    const started = await lab.vmig(['-c', 'h1', 'start', 'x1']);
    expectCleanFailure(started, 2, new RegExp(`^vmig: error: h1 lacks ${missing}, which domain x1 needs$`));
    expect(started.stderr).toBe(`vmig: error: h1 lacks ${missing}, which domain x1 needs\n`);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    // The same for a disk.
    expectOk(
      await lab.vmig([
        '-c',
        'h1',
        'define',
        await domainFile('x1', { disks: [{ path: join(lab.dir, 'no-disk.qcow2'), format: 'qcow2' }] }),
      ]),
    );
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'start', 'x1']),
      2,
      /h1 lacks .*no-disk\.qcow2, which domain x1 needs$/,
    );
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    expectOk(await lab.vmig(['-c', 'h1', 'undefine', 'x1']));
  });

  it('a QEMU that fails to start: its error, not the TCG warning before it; the whole stderr with --verbose', async () => {
    const notAKernel = join(lab.dir, 'not-a-kernel.bin');
    await writeFile(notAKernel, 'hello\n');
    // A CPU feature TCG lacks makes QEMU warn first, as on the issue's host.
    expectOk(
      await lab.vmig(['-c', 'h1', 'define', await domainFile('x2', { kernel: notAKernel, cpu: 'qemu64,+avx512f' })]),
    );
    const started = await lab.vmig(['-c', 'h1', 'start', 'x2']);
    expectCleanFailure(started, 1, /^vmig: error: QEMU on h1 failed to start: invalid kernel header$/);
    expect(started.stderr).toBe('vmig: error: QEMU on h1 failed to start: invalid kernel header\n');
    const verbose = await lab.vmig(['-c', 'h1', '--verbose', 'start', 'x2']);
    expect(verbose.exitCode).toBe(1);
    expect(verbose.stderr).toMatch(
      /QEMU stderr: qemu-system-x86_64: warning: TCG doesn't support requested feature: CPUID\.07H:EBX\.avx512f/,
    );
    expect(verbose.stderr).toMatch(/QEMU stderr: qemu: invalid kernel header/);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    expectOk(await lab.vmig(['-c', 'h1', 'undefine', 'x2']));
  });

  it("commander's parse errors: one 'vmig: error:' line, exit 2", async () => {
    const choice = await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--timeout-action', 'explode']);
    expect(choice).toMatchObject({ exitCode: 2, stdout: '' });
    expect(choice.stderr).toBe(
      "vmig: error: option '--timeout-action <action>' argument 'explode' is invalid. Allowed choices are abort, suspend, postcopy.\n",
    );
    const unknown = await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--x']);
    expect(unknown).toMatchObject({ exitCode: 2, stderr: "vmig: error: unknown option '--x'\n" });
  });

  it('a QEMU that stops answering (SIGSTOP): list warns and dominfo fails within the deadline, naming host, guest and command', async () => {
    const kernel = join(lab.dir, 'g1-kernel.bin');
    await copyFile(GUEST_KERNEL, kernel);
    expectOk(await lab.vmig(['-c', 'h1', 'define', await domainFile('g1', { kernel })]));
    expectOk(await lab.vmig(['-c', 'h1', 'start', 'g1']));
    const [pid] = await qemuPids(lab, 'h1');
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGSTOP');
    // A stopped QEMU never accepts its monitor connections: each attempt waits out its deadline while the accept
    // queue has room, later ones are refused at once (EAGAIN). Either way the error names host, guest and command.
    const stuck =
      /QEMU of g1 on h1 did not answer query-status( within 3 s| \(its monitor accepts no connections: stuck or stopped\))$/;
    try {
      // The controller's own deadline on agent calls (VMIG_RPC_TIMEOUT_MS), shorter here than the agent's 3 s.
      let started = Date.now();
      const bounded = await lab.vmig(['-c', 'h1', 'list'], { env: { VMIG_RPC_TIMEOUT_MS: '1000' }, timeoutMs: 60_000 });
      expect(Date.now() - started).toBeLessThan(15_000);
      expectCleanFailure(bounded, 1, /^vmig: error: h1 did not answer domain\.list within 1 s$/);

      started = Date.now();
      const listed = await lab.vmig(['-c', 'h1', 'list'], { timeoutMs: 60_000 });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(listed.exitCode, listed.stderr).toBe(0);
      expect(listed.stderr.trim().split('\n')).toHaveLength(1);
      expect(listed.stderr).toMatch(/^warning: /);
      expect(listed.stderr.trim()).toMatch(stuck);
      expect(listed.stdout).toMatch(/^g1 .* unknown /m);

      started = Date.now();
      const info = await lab.vmig(['-c', 'h1', 'dominfo', 'g1'], { timeoutMs: 60_000 });
      expect(Date.now() - started).toBeLessThan(15_000);
      expectCleanFailure(info, 1, new RegExp(`^vmig: error: ${stuck.source}`));
    } finally {
      process.kill(pid!, 'SIGCONT');
    }
    const info = expectOk(await lab.vmig(['-c', 'h1', 'dominfo', 'g1']));
    expect(info.stdout).toMatch(/running/);
    expectOk(await lab.vmig(['-c', 'h1', 'destroy', 'g1']));
    expect(await qemuPids(lab, 'h1')).toEqual([]);
  });
});
