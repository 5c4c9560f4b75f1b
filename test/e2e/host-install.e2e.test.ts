// `vmig host install`: a host with no vmig on its PATH gets this exact build over SSH, after which the
// controller uses it without ?vmig=; guests migrate to and from it; a second install copies nothing; an agent of
// another version is refused with an error that names the command.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import { VERSION } from '../../src/version.js';
import {
  expectCleanFailure,
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  startGuest,
  waitForPasses,
} from './support.js';

interface InstallJson {
  version: string;
  hosts: Array<{
    host: string;
    status: string;
    path?: string;
    bytesSent?: number;
    files?: number;
    error?: { message: string };
  }>;
}

describe('vmig host install', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'], withoutVmig: ['h2'] });
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('before the install the error names the command', async () => {
    expectCleanFailure(
      await lab.vmig(['-c', 'h2', 'list']),
      3,
      /vmig 0\.\d+\.\d+ not found \(install it with: vmig host install h2/,
    );
  });

  it('installs, then list, define/start and migrations both ways work with no ?vmig=', async () => {
    const result = expectOk(await lab.vmig(['host', 'install', 'h2', '--json']));
    const report = JSON.parse(result.stdout) as InstallJson;
    expect(report.version).toBe(VERSION);
    const h2 = report.hosts[0]!;
    expect(h2.status).toBe('installed');
    expect(h2.path).toBe(join(lab.hosts.h2!.dir, 'lib', VERSION));
    expect(h2.bytesSent).toBeGreaterThan(100_000);
    // Only runtime modules: no test runner, no compiler.
    const files = (await lab.exec('h2', ['find', h2.path!, '-maxdepth', '2', '-path', '*node_modules/*'])).stdout;
    expect(files).toContain('node_modules/ssh2');
    expect(files).not.toMatch(/node_modules\/(vitest|typescript)\b/);
    // The host itself still has no vmig on its PATH: the controller found the versioned install.
    expect((await lab.exec('h2', ['sh', '-c', 'command -v vmig || echo none'])).stdout.trim()).toBe('none');
    expectOk(await lab.vmig(['-c', 'h2', 'list']));

    const before = await startGuest(lab, 'h1', 'g1');
    expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2']));
    await expectRunsOnlyOn(lab, 'h2', 'g1');
    const there = await expectGuestContinued(lab, 'h2', 'g1', before);
    expectOk(await lab.vmig(['-c', 'h2', 'migrate', 'g1', 'h1', '--transport', 'ssh']));
    await expectRunsOnlyOn(lab, 'h1', 'g1');
    await expectGuestContinued(lab, 'h1', 'g1', there);

    // define and start directly on the installed host, too
    const file = join(lab.dir, 'g2.json');
    await writeFile(
      file,
      JSON.stringify({
        name: 'g2',
        memoryMiB: 32,
        accel: 'tcg',
        kernel: join(lab.repoRoot, 'test', 'guest', 'build', 'guest.bin'),
      }),
    );
    expectOk(await lab.vmig(['-c', 'h2', 'define', file]));
    expectOk(await lab.vmig(['-c', 'h2', 'start', 'g2']));
    expect((await waitForPasses(lab, 'h2', 'g2', 1)).errors).toBe(0);
    expectOk(await lab.vmig(['-c', 'h2', 'destroy', 'g2']));
  });

  it('a second install copies nothing; several hosts at once', async () => {
    const result = expectOk(await lab.vmig(['host', 'install', 'h2', 'h1', '--json']));
    const report = JSON.parse(result.stdout) as InstallJson;
    expect(report.hosts.map((host) => [host.host, host.status])).toEqual([
      ['h2', 'unchanged'],
      ['h1', 'installed'],
    ]);
    expect(report.hosts[0]!.bytesSent).toBe(0);
    const text = expectOk(await lab.vmig(['host', 'install', 'h2']));
    expect(text.stdout).toMatch(/h2\s+unchanged\s+vmig \S+ already installed in .* \(nothing copied\)/);
  });

  it('an agent of another version is refused, naming vmig host install; installing again repairs it', async () => {
    const manifest = join(lab.hosts.h2!.dir, 'lib', VERSION, 'package.json');
    const original = await readFile(manifest, 'utf8');
    await writeFile(manifest, original.replace(`"version": "${VERSION}"`, '"version": "0.0.1-old"'));
    expectCleanFailure(
      await lab.vmig(['-c', 'h2', 'list']),
      3,
      /h2 runs vmig 0\.0\.1-old, this controller is vmig .*; install this version there with: vmig host install h2$/,
    );
    const repaired = JSON.parse(expectOk(await lab.vmig(['host', 'install', 'h2', '--json'])).stdout) as InstallJson;
    expect(repaired.hosts[0]!.status).toBe('replaced');
    expectOk(await lab.vmig(['-c', 'h2', 'list']));
  });

  it('a host without Node.js, or with an old one: one line naming what to install, exit 2, nothing copied', async () => {
    const fakeBin = join(lab.hosts.h1!.dir, 'fakebin');
    await mkdir(fakeBin, { recursive: true });
    await lab.setHostEnv('h1', { PATH: `${fakeBin}:${lab.path}` });
    try {
      // A `node` that does not run, then one that is too old, first on the PATH.
      await writeFile(join(fakeBin, 'node'), '#!/bin/sh\nexit 127\n', { mode: 0o755 });
      expectCleanFailure(
        await lab.vmig(['host', 'install', 'h1']),
        2,
        /h1: no Node\.js on the PATH of an SSH session there; install Node\.js 20\.19 or newer/,
      );
      await writeFile(join(fakeBin, 'node'), '#!/bin/sh\necho v18.19.0\n', { mode: 0o755 });
      expectCleanFailure(
        await lab.vmig(['host', 'install', 'h1']),
        2,
        /h1: Node\.js v18\.19\.0 is too old; install Node\.js 20\.19 or newer there/,
      );
    } finally {
      await lab.setHostEnv('h1', { PATH: lab.path });
    }
  });
});
