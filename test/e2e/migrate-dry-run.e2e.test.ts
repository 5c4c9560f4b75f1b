// `vmig migrate --dry-run`: Begin's and Prepare's checks on the real hosts and the transport `auto` would pick,
// then nothing left behind: same QEMU on the source, none on the destination, no lock, no journal entry.
import { copyFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import { GUEST_KERNEL, expectCleanFailure, expectOk, qemuPids, startGuest } from './support.js';

describe('vmig migrate --dry-run', () => {
  let lab: Lab;
  let sourcePids: number[];

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
    await startGuest(lab, 'h1', 'g1');
    sourcePids = await qemuPids(lab, 'h1');
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  const entries = async (host: string, dir: string) =>
    (await readdir(join(lab.hosts[host]!.stateDir, dir)).catch(() => [])).sort();

  /** Neither host changed: the source's QEMUs as before, none on the destination, no lock, no journal entry, no socket. */
  async function expectNothingChanged(): Promise<void> {
    expect(await qemuPids(lab, 'h1')).toEqual(sourcePids);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
    for (const host of ['h1', 'h2']) {
      expect(await entries(host, 'locks'), host).toEqual([]);
      expect(await entries(host, 'journal'), host).toEqual([]);
    }
    expect(await entries('h2', 'run')).toEqual([]);
  }

  it('a good pair: exit 0, the plan with the transport and why, nothing changed', async () => {
    const result = expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--dry-run']));
    expect(result.stdout).toMatch(/^Dry run: g1 from h1 to h2 would go ahead; nothing was changed\./);
    expect(result.stdout).toMatch(
      /prepare\s+h2: definition valid, its files present, 64 MiB \+ 64 MiB headroom fit, QEMU \d+\.\d+/,
    );
    expect(result.stdout).toMatch(/endpoint\s+10\.231\.\d+\.12:49152 free on h2/);
    expect(result.stdout).toMatch(
      /transport\s+tls \(encrypted\): encrypted by default; the source reaches the destination's TLS endpoint/,
    );
    await expectNothingChanged();
    const json = JSON.parse(
      expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--dry-run', '--json'])).stdout,
    ) as { type: string; transport: { transport: string } };
    expect(json).toMatchObject({ type: 'plan', dryRun: true, transport: { transport: 'tls', encrypted: true } });
    await expectNothingChanged();
  });

  it('migration ports blocked: the plan says ssh and why', async () => {
    await lab.blockPorts('h2', 49152, 49215);
    try {
      const result = expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--dry-run']));
      expect(result.stdout).toMatch(
        /transport\s+ssh \(encrypted\): encrypted by default; the source cannot reach the destination's TLS endpoint .* so the stream is relayed over the SSH connections/,
      );
      // An explicit tls that could not work is refused now rather than at Perform.
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--dry-run', '--transport', 'tls']),
        2,
        /h1 cannot reach h2's migration port .* which --transport tls needs/,
      );
    } finally {
      await lab.unblockPorts('h2');
    }
    await expectNothingChanged();
  });

  it('not enough memory on the destination: exit 2 with the reason', async () => {
    const file = join(lab.hosts.h2!.dir, 'host.toml');
    await writeFile(file, 'memory_headroom_mib = 100000000\n');
    try {
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--dry-run']),
        2,
        /h2 has \d+ MiB available, domain g1 needs 64 MiB plus 100000000 MiB headroom/,
      );
    } finally {
      await rm(file, { force: true });
    }
    await expectNothingChanged();
  });

  it('a kernel the destination lacks: exit 2 naming it', async () => {
    // QEMU read its kernel at start; removing the file afterwards leaves a guest whose kernel no host has.
    const kernel = join(lab.dir, 'only-on-h1.bin');
    await copyFile(GUEST_KERNEL, kernel);
    await startGuest(lab, 'h1', 'g2', { kernel });
    await rm(kernel);
    sourcePids = await qemuPids(lab, 'h1');
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g2', 'h2', '--dry-run']),
      2,
      new RegExp(`h2 lacks ${kernel}, which domain g2 needs`),
    );
    await expectNothingChanged();
  });
});
