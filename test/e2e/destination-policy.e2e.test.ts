// Audit item 2: the destination does not trust the source's definition. What host.toml does not allow is
// refused at Prepare with one line and exit 2, before anything starts there; a stored definition of the same
// name must match (or --force-definition), and one of another uuid is never replaced.
import { chmod, copyFile, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import {
  GUEST_KERNEL,
  expectCleanFailure,
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  listDomains,
  qemuPids,
  waitForPasses,
} from './support.js';

describe("the destination's policy for incoming definitions", () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  async function define(host: string, definition: Record<string, unknown>): Promise<void> {
    const file = join(lab.dir, `${String(definition.name)}-${host}.json`);
    await writeFile(file, JSON.stringify({ memoryMiB: 32, accel: 'tcg', kernel: GUEST_KERNEL, ...definition }));
    expectOk(await lab.vmig(['-c', host, 'define', file]));
  }

  async function startOnH1(definition: Record<string, unknown>) {
    await define('h1', definition);
    expectOk(await lab.vmig(['-c', 'h1', 'start', String(definition.name)]));
    return waitForPasses(lab, 'h1', String(definition.name), 2);
  }

  /** Nothing of `name` was created on `host`: no QEMU, no run directory, not listed. */
  async function nothingOn(host: string, name: string): Promise<void> {
    expect(await qemuPids(lab, host)).toEqual([]);
    expect(existsSync(join(lab.hosts[host]!.stateDir, 'run', name))).toBe(false);
    expect((await listDomains(lab, host)).map((domain) => domain.name)).not.toContain(name);
  }

  it('extraArgs that open a host file (-chardev file,path=...) are refused at Prepare and in a dry run; nothing is created, the file is untouched', async () => {
    const victim = join(lab.dir, 'victim.log');
    await startOnH1({ name: 'gx', extraArgs: ['-chardev', `file,id=c0,path=${victim}`] });
    await writeFile(victim, 'precious\n');
    const pids = await qemuPids(lab, 'h1');
    for (const extra of [[], ['--dry-run'], ['--direct']]) {
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'gx', 'h2', ...extra]),
        2,
        /h2 refuses domain gx from the source: extraArgs "-chardev" is not a -device option \(host.toml incoming_extra_args = "devices"/,
      );
    }
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
    await nothingOn('h2', 'gx');
    expect(await qemuPids(lab, 'h1')).toEqual(pids);
    await expectRunsOnlyOn(lab, 'h1', 'gx');
    expectOk(await lab.vmig(['-c', 'h1', 'destroy', 'gx']));
  });

  it("kernels and disks outside the policy are refused; README's -device virtio-rng-pci passes and the guest arrives intact", async () => {
    // A kernel others may not read (a host secret, as far as the destination can tell).
    const secret = join(lab.dir, 'secret.bin');
    await copyFile(GUEST_KERNEL, secret);
    await chmod(secret, 0o600);
    await startOnH1({ name: 'gk', kernel: secret });
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'gk', 'h2']),
      2,
      new RegExp(
        `h2 refuses domain gk from the source: kernel ${secret} is not world-readable; list its directory in host.toml incoming_kernel_paths`,
      ),
    );
    await nothingOn('h2', 'gk');
    // A disk outside incoming_disk_paths (the lab's host.toml lists only the lab dir; this host lists none).
    const disk = join(lab.dir, 'd1.raw');
    await writeFile(disk, '');
    await truncate(disk, 1024 * 1024);
    expectOk(await lab.vmig(['-c', 'h1', 'destroy', 'gk']));
    await startOnH1({ name: 'gd', disks: [{ path: disk, format: 'raw' }] });
    const hostToml = join(lab.hosts.h2!.dir, 'host.toml');
    const labToml = await readFile(hostToml, 'utf8');
    await writeFile(hostToml, 'incoming_disk_paths = ["/srv/"]\nincoming_kernel_paths = ["/srv/images"]\n');
    try {
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'gd', 'h2']),
        2,
        new RegExp(
          `h2 refuses domain gd from the source: kernel ${GUEST_KERNEL} is outside host.toml incoming_kernel_paths \\(/srv/images\\)`,
        ),
      );
      await writeFile(hostToml, 'incoming_disk_paths = ["/srv/"]\n');
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'gd', 'h2']),
        2,
        new RegExp(
          `h2 refuses domain gd from the source: disk ${disk} is outside host.toml incoming_disk_paths \\(/srv/\\)`,
        ),
      );
      await nothingOn('h2', 'gd');
      await writeFile(hostToml, 'incoming_extra_args = "refuse"\n');
      await startOnH1({ name: 'gr', extraArgs: ['-device', 'virtio-rng-pci'] });
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'gr', 'h2']),
        2,
        /h2 refuses domain gr from the source: extraArgs are refused here \(host.toml incoming_extra_args = "refuse"\)/,
      );
      await nothingOn('h2', 'gr');
    } finally {
      await writeFile(hostToml, labToml);
    }
    expectOk(await lab.vmig(['-c', 'h1', 'destroy', 'gd']));
    // The default takes emulated devices.
    const before = await waitForPasses(lab, 'h1', 'gr', 2);
    expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'gr', 'h2']));
    await expectRunsOnlyOn(lab, 'h2', 'gr');
    await expectGuestContinued(lab, 'h2', 'gr', before);
    expectOk(await lab.vmig(['-c', 'h2', 'destroy', 'gr']));
    await rm(secret);
  });

  it('a stored definition that differs is refused, accepted with --force-definition; one of another uuid is always refused', async () => {
    const uuid = '5b0e7c2a-1111-4222-8333-444455556666';
    const before = await startOnH1({ name: 'g1', uuid });
    // h2 stores g1 (same guest, same uuid) with other memory: the source's definition would silently replace it.
    await define('h2', { name: 'g1', uuid, memoryMiB: 48 });
    const pids = await qemuPids(lab, 'h1');
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2']),
      2,
      /domain g1 is defined differently on h2 \(memoryMiB\); pass --force-definition to run the source's definition/,
    );
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--dry-run']),
      2,
      /domain g1 is defined differently on h2 \(memoryMiB\)/,
    );
    // The dry run passes where the run would: with the flag.
    expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--dry-run', '--force-definition']));
    await nothingOn('h2', 'g1');
    expect(await qemuPids(lab, 'h1')).toEqual(pids);

    expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--force-definition', '--persistent']));
    await expectRunsOnlyOn(lab, 'h2', 'g1');
    const there = await expectGuestContinued(lab, 'h2', 'g1', before);

    // h1 now stores another guest named g1 (another uuid): never replaced, --force-definition or not.
    expectOk(await lab.vmig(['-c', 'h1', 'undefine', 'g1']));
    await define('h1', { name: 'g1', uuid: '5b0e7c2a-9999-4222-8333-444455556666' });
    const h2Pids = await qemuPids(lab, 'h2');
    for (const extra of [[], ['--force-definition']]) {
      expectCleanFailure(
        await lab.vmig(['-c', 'h2', 'migrate', 'g1', 'h1', ...extra]),
        2,
        new RegExp(
          `domain g1 is defined on h1 as another guest \\(uuid 5b0e7c2a-9999-4222-8333-444455556666, the source's is ${uuid}\\)`,
        ),
      );
    }
    await nothingOn('h1', 'g1');
    expect(await qemuPids(lab, 'h2')).toEqual(h2Pids);
    await expectGuestContinued(lab, 'h2', 'g1', there);
  });
});
