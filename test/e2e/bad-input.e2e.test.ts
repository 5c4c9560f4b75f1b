// Every bad input is refused with one line naming the problem and its documented exit code, and leaves
// both hosts exactly as they were: the guest still runs on the source, the destination has nothing new.
import { copyFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import {
  GUEST_KERNEL,
  expectCleanFailure,
  expectGuestContinued,
  expectOk,
  guestStatus,
  listDomains,
  qemuPids,
  startGuest,
  writeDomainFile,
} from './support.js';

describe('bad input changes nothing', () => {
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

  /** Nothing changed: same QEMU on h1 still running g1, no QEMU and no g1 on h2. */
  async function expectUnchanged(): Promise<void> {
    expect(await qemuPids(lab, 'h1')).toEqual(sourcePids);
    expect((await listDomains(lab, 'h1')).map((domain) => [domain.name, domain.state])).toEqual([['g1', 'running']]);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
    expect((await listDomains(lab, 'h2', true)).map((domain) => domain.name)).not.toContain('g1');
  }

  it('unknown domain → exit 2', async () => {
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'nosuch', 'h2', '--direct']),
      2,
      /domain nosuch does not exist on h1/,
    );
    await expectUnchanged();
  });

  it('destination equal to the source, by alias and by address → exit 2', async () => {
    expectCleanFailure(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h1', '--direct']), 2, /is the source host itself/);
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', lab.sshUri('h1'), '--direct']),
      2,
      /is the source host itself/,
    );
    await expectUnchanged();
  });

  it('malformed or invalid domain files → exit 2 naming the field, nothing defined', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"name": "x1", "memoryMiB": 64, ', /not valid JSON/],
      [JSON.stringify({ name: 'x1', memoryMiB: 64, kernel: GUEST_KERNEL, colour: 'blue' }), /unknown field "colour"/],
      [JSON.stringify({ name: 'x1', memoryMiB: 'lots', kernel: GUEST_KERNEL }), /field "memoryMiB"/],
      [JSON.stringify({ name: 'x 1', memoryMiB: 64, kernel: GUEST_KERNEL }), /field "name"/],
      [JSON.stringify({ name: 'x1', memoryMiB: 64, kernel: 'guest.bin' }), /field "kernel" must be an absolute path/],
      [JSON.stringify({ name: 'x1', memoryMiB: 64 }), /needs a kernel or at least one disk/],
    ];
    const file = join(lab.dir, 'bad.json');
    for (const [text, pattern] of cases) {
      await writeFile(file, text);
      expectCleanFailure(await lab.vmig(['-c', 'h1', 'define', file]), 2, pattern);
    }
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'define', join(lab.dir, 'missing.json')]),
      2,
      /cannot read .*missing\.json: no such file/,
    );
    expect((await listDomains(lab, 'h1', true)).map((domain) => domain.name)).toEqual(['g1']);
  });

  it('bad options and URIs → exit 2 before any host is contacted', async () => {
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'ftp://h2', '--direct']),
      2,
      /unsupported host URI scheme/,
    );
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct', '--bandwidth', 'fast']),
      2,
      /--bandwidth takes/,
    );
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct', '--port-range', '9-3']),
      2,
      /--port-range/,
    );
    const unknownOption = await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct', '--bogus']);
    expect(unknownOption.exitCode).toBe(2);
    expect(unknownOption.stderr).toMatch(/unknown option '--bogus'/);
    await expectUnchanged();
  });

  it('destination already runs a domain of that name, or of that uuid → exit 2', async () => {
    // Same name, another guest.
    const other = await writeDomainFile(lab, 'g1');
    expectOk(await lab.vmig(['-c', 'h2', 'define', other]));
    expectOk(await lab.vmig(['-c', 'h2', 'start', 'g1']));
    const h2Pids = await qemuPids(lab, 'h2');
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']),
      2,
      /domain g1 is already running on h2/,
    );
    expect(await qemuPids(lab, 'h2')).toEqual(h2Pids);
    expectOk(await lab.vmig(['-c', 'h2', 'destroy', 'g1']));
    expectOk(await lab.vmig(['-c', 'h2', 'undefine', 'g1']));

    // Another name, the same uuid.
    const { uuid } = (await listDomains(lab, 'h1')).find((domain) => domain.name === 'g1')!;
    const twin = await writeDomainFile(lab, 'twin', { uuid });
    expectOk(await lab.vmig(['-c', 'h2', 'define', twin]));
    expectOk(await lab.vmig(['-c', 'h2', 'start', 'twin']));
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']),
      2,
      new RegExp(`uuid ${uuid} \\(twin\\) is already running on h2`),
    );
    expectOk(await lab.vmig(['-c', 'h2', 'destroy', 'twin']));
    expectOk(await lab.vmig(['-c', 'h2', 'undefine', 'twin']));
    await expectUnchanged();
  });

  it('destination lacks the kernel path → exit 2', async () => {
    // A guest whose kernel file is removed once QEMU has loaded it: the destination cannot find it.
    const kernel = join(lab.dir, 'only-here.bin');
    await copyFile(GUEST_KERNEL, kernel);
    await startGuest(lab, 'h1', 'g2', { kernel });
    const pidsBefore = await qemuPids(lab, 'h1');
    await rm(kernel);
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g2', 'h2', '--direct']),
      2,
      new RegExp(`h2 lacks ${kernel}`),
    );
    expect(await qemuPids(lab, 'h1')).toEqual(pidsBefore);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
    expectOk(await lab.vmig(['-c', 'h1', 'destroy', 'g2']));
    expectOk(await lab.vmig(['-c', 'h1', 'undefine', 'g2']));
    await expectUnchanged();
  });

  it('destination lacks the memory → exit 2', async () => {
    await writeFile(join(lab.hosts.h2!.dir, 'host.toml'), 'guest_memory_limit_mib = 32\n');
    try {
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']),
        2,
        /h2 lacks memory for g1: .* needs 64 MiB/,
      );
    } finally {
      await rm(join(lab.hosts.h2!.dir, 'host.toml'));
    }
    await expectUnchanged();
  });

  it('unreachable host → exit 3', async () => {
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'ssh://root@10.231.0.1:1', '--direct']),
      3,
      /cannot reach root@10\.231\.0\.1:1/,
    );
    await lab.stopSshd('h2');
    try {
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']),
        3,
        /cannot reach h2 .*connection refused/,
      );
    } finally {
      await lab.startSshd('h2');
    }
    await expectUnchanged();
  });

  it('authentication failure → exit 3', async () => {
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'nosuchuser@h2', '--direct']),
      3,
      /authentication to nosuchuser@h2 .* failed/,
    );
    await expectUnchanged();
  });

  it('no SSH key at all → exit 3 naming the missing key for a reachable host, and "cannot reach" for an unreachable one', async () => {
    const key = join(lab.home, '.ssh', 'id_ed25519');
    const aside = `${key}.aside`;
    await rename(key, aside);
    try {
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']),
        3,
        /no SSH key for h1: start ssh-agent or create ~\/\.ssh\/id_ed25519/,
      );
      // Port 1 on the controller's own loopback: nothing listens there.
      expectCleanFailure(
        await lab.vmig(['-c', 'ssh://root@127.0.0.1:1', 'list']),
        3,
        /cannot reach root@127\.0\.0\.1:1 .*connection refused/,
      );
    } finally {
      await rename(aside, key);
    }
    await expectUnchanged();
  });

  it('unknown or changed host key → exit 3, refused', async () => {
    const knownHosts = join(lab.home, '.ssh', 'known_hosts');
    const original = await readFile(knownHosts, 'utf8');
    try {
      // Unknown: h2's entry removed.
      const h2Address = lab.hosts.h2!.ipv4;
      await writeFile(
        knownHosts,
        original
          .split('\n')
          .filter((line) => !line.includes(h2Address) && !line.startsWith('h2 '))
          .join('\n'),
      );
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']),
        3,
        /host key of h2 .* is not in known_hosts/,
      );
      // Changed: h2 recorded with h1's key.
      const h1Key = original
        .split('\n')
        .find((line) => line.startsWith('h1,'))!
        .split(' ')
        .slice(1)
        .join(' ');
      await writeFile(
        knownHosts,
        `${original
          .split('\n')
          .filter((line) => !line.includes(h2Address) && !line.startsWith('h2 '))
          .join('\n')}\n${h2Address} ${h1Key}\n`,
      );
      expectCleanFailure(
        await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']),
        3,
        /REFUSED: the host key of h2 .* does not match known_hosts/,
      );
    } finally {
      await writeFile(knownHosts, original);
    }
    await expectUnchanged();
  });

  it('after all that, the guest is intact and the migration lock was never leaked', async () => {
    const before = await guestStatus(lab, 'h1', 'g1');
    expect(before.errors).toBe(0);
    expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']));
    await expectGuestContinued(lab, 'h2', 'g1', before);
  });
});
