// Storage migration end to end: guests on local disks (each lab host's private directory: the same path, other
// files) move with --copy-storage-all / -inc over direct, tls and ssh. The destination image must hold what the
// source held at the switch-over, including patterns written through QEMU's block layer while the mirror ran;
// failures leave the guest on h1 on its own disk and no image on h2.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type ProcHandle } from '../../src/lab/lab.js';
import { spawnProc } from '../../src/lab/proc.js';
import {
  expectCleanFailure,
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  GUEST_KERNEL,
  qemuPids,
  waitForPasses,
} from './support.js';
import { opensslWithWrongKey, portsInRange } from './support-wire.js';

const MiB = 1024 * 1024;
const DISK_MIB = 48;
/** The first DATA_MIB of each disk hold random data; the rest is sparse. */
const DATA_MIB = 24;

interface DiskSpec {
  file: string;
  format: 'raw' | 'qcow2';
  target?: string;
  shared?: boolean;
  backing?: string;
}

describe('storage migration', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  const onHost = (host: string, file: string) => join(lab.hosts[host]!.privateDir, file);
  const inGuest = (file: string) => join(lab.privateDir, file);

  /** A disk image on `host`'s private disk: random data up front, sparse after. */
  async function makeOverlay(host: string, file: string, backing: string): Promise<void> {
    // On the host (its private directory mounted), where the backing file's path resolves; 2 MiB of its own data.
    expectOk(
      await lab.exec(host, [
        'qemu-img',
        'create',
        '-q',
        '-f',
        'qcow2',
        '-b',
        inGuest(backing),
        '-F',
        'qcow2',
        inGuest(file),
        `${DISK_MIB}M`,
      ]),
    );
    expectOk(await lab.exec(host, ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x33 4M 2M', inGuest(file)]));
  }

  function makeImage(host: string, file: string, format: 'raw' | 'qcow2'): void {
    const path = onHost(host, file);
    const raw = format === 'raw' ? path : `${path}.raw`;
    execFileSync('dd', ['if=/dev/urandom', `of=${raw}`, 'bs=1M', `count=${DATA_MIB}`, 'status=none']);
    execFileSync('truncate', ['-s', `${DISK_MIB}M`, raw]);
    if (format === 'qcow2') {
      execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, path]);
      execFileSync('rm', ['-f', raw]);
    }
  }

  async function defineGuest(name: string, disks: DiskSpec[]): Promise<void> {
    const file = join(lab.dir, `${name}.json`);
    const domain = {
      name,
      memoryMiB: 64,
      machine: 'pc',
      accel: 'tcg',
      kernel: GUEST_KERNEL,
      // The guest only verifies its memory: a capped stream converges.
      append: 'dirty=0',
      disks: disks.map((disk) => ({
        path: inGuest(disk.file),
        format: disk.format,
        ...(disk.target ? { target: disk.target } : {}),
        ...(disk.shared !== undefined ? { shared: disk.shared } : {}),
      })),
    };
    await writeFile(file, JSON.stringify(domain));
    expectOk(await lab.vmig(['-c', 'h1', 'define', file]));
    expectOk(await lab.vmig(['-c', 'h1', 'start', name]));
  }

  /** Writes a pattern through the source QEMU's block layer (HMP qemu-io on the drive). */
  async function writePattern(
    host: string,
    name: string,
    target: string,
    byte: number,
    offset: number,
    length: number,
  ): Promise<void> {
    const command = `qemu-io ${target} "write -P 0x${byte.toString(16)} ${offset} ${length}"`;
    expectOk(
      await lab.vmig([
        '-c',
        host,
        'qemu-monitor-command',
        name,
        JSON.stringify({ execute: 'human-monitor-command', arguments: { 'command-line': command } }),
      ]),
    );
  }

  /** Whether every byte of [offset, offset+length) of an image on a host's disk is `byte` (read with qemu-io, shared lock). */
  async function holdsPattern(
    host: string,
    file: string,
    format: 'raw' | 'qcow2',
    byte: number,
    offset: number,
    length: number,
  ): Promise<boolean> {
    const result = expectOk(
      await lab.exec(host, [
        'qemu-io',
        '-r',
        '-U',
        '-f',
        format,
        '-c',
        `read -P 0x${byte.toString(16)} ${offset} ${length}`,
        inGuest(file),
      ]),
    );
    return !/Pattern verification failed/.test(result.stdout) && /read \d+\/\d+ bytes/.test(result.stdout);
  }

  const compare = (file: string, format: 'raw' | 'qcow2') =>
    execFileSync('qemu-img', ['compare', '-U', '-f', format, '-F', format, onHost('h1', file), onHost('h2', file)], {
      encoding: 'utf8',
    }).trim();

  const filesOn = (host: string) => readdirSync(lab.hosts[host]!.privateDir).sort();

  /** Moves a guest h1 → h2 while writing patterns during the disk copy; checks image, guest and placement. */
  async function moveWithWrites(
    name: string,
    disk: DiskSpec,
    transportArgs: string[],
    expectTransport: RegExp,
    duringCopy?: () => Promise<void>,
  ): Promise<string> {
    const target = disk.target ?? 'vda';
    await defineGuest(name, [disk]);
    const before = await waitForPasses(lab, 'h1', name, 2);
    await writePattern('h1', name, target, 0x11, 30 * MiB, 64 * 1024);
    // 4 MiB/s: the disk copy takes seconds, long enough to write during it.
    const run = lab.spawnVmig(
      ['-c', 'h1', 'migrate', name, 'h2', '--copy-storage-all', ...transportArgs, '--bandwidth', '4', '--verbose'],
      { timeoutMs: 240_000 },
    );
    let result;
    try {
      await run.waitForLine(/^perform: copying disks vda/m, { stream: 'stderr', timeoutMs: 90_000 });
      await writePattern('h1', name, target, 0x5a, 1 * MiB, 64 * 1024);
      await writePattern('h1', name, target, 0xa5, 40 * MiB, 128 * 1024);
      await duringCopy?.();
      expect(run.exited, 'the migration goes on').toBe(false);
    } finally {
      result = await run.wait();
    }
    expectOk(result);
    expect(result.stdout).toMatch(expectTransport);
    expect(result.stdout).toMatch(new RegExp(`disks ${target} `));
    await expectRunsOnlyOn(lab, 'h2', name);
    await expectGuestContinued(lab, 'h2', name, before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    for (const [byte, offset, length] of [
      [0x11, 30 * MiB, 64 * 1024],
      [0x5a, 1 * MiB, 64 * 1024],
      [0xa5, 40 * MiB, 128 * 1024],
    ] as const) {
      expect(
        await holdsPattern('h2', disk.file, disk.format, byte, offset, length),
        `pattern 0x${byte.toString(16)} on h2`,
      ).toBe(true);
    }
    // The guest does not write its disk itself: the source image as retired equals the copy.
    expect(compare(disk.file, disk.format)).toBe('Images are identical.');
    return result.stderr;
  }

  it('direct: a running guest with a local raw disk moves h1 → h2 with its disk, writes made during the copy included', async () => {
    makeImage('h1', 'd1.img', 'raw');
    const stderr = await moveWithWrites(
      'd1',
      { file: 'd1.img', format: 'raw' },
      ['--direct'],
      /^Migrated d1 to h2 over direct \(unencrypted\)/m,
    );
    expect(stderr).toMatch(/warning: the direct transport sends guest memory and disks unencrypted/);
  });

  it('tls: a guest with a local qcow2 disk moves over TLS; the disk stream proves the cookie (no listener left, raw TCP refused)', async () => {
    makeImage('h1', 't1.qcow2', 'qcow2');
    await moveWithWrites(
      't1',
      { file: 't1.qcow2', format: 'qcow2' },
      ['--transport', 'tls'],
      /^Migrated t1 to h2 over tls:/m,
      async () => {
        // Whatever still listens on h2 (the memory stream's listener until memory starts; the disk's closed behind
        // its one connection): a raw TCP connection and a TLS client with a wrong key get nothing, and the copy goes on.
        const listening = await portsInRange(lab, 'h2', 'listening');
        const established = await portsInRange(lab, 'h2', 'established');
        expect(established.length, 'the disk stream is connected').toBeGreaterThan(0);
        for (const port of established.filter((port) => !listening.includes(port)))
          expect(await lab.tcpConnect('h1', lab.hosts.h2!.ipv4, port)).toBe('refused');
        for (const port of listening) {
          const wrongKey = await opensslWithWrongKey(lab, 'h1', `${lab.hosts.h2!.ipv4}:${port}`);
          expect(wrongKey.stdout).not.toMatch(/Cipher is TLS_/);
        }
      },
    );
    const log = await readFile(join(lab.hosts.h2!.stateDir, 'agent.log'), 'utf8');
    expect(log).toMatch(/tls stream disk-vda of migration \S+: .* authenticated/);
  });

  it('ssh: a guest with a local raw disk moves over the SSH relay', async () => {
    makeImage('h1', 's1.img', 'raw');
    await moveWithWrites(
      's1',
      { file: 's1.img', format: 'raw' },
      ['--transport', 'ssh'],
      /^Migrated s1 to h2 over ssh:/m,
    );
  });

  it('--copy-storage-inc copies only the qcow2 overlay; the backing file is already on both hosts', async () => {
    for (const host of ['h1', 'h2']) {
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', onHost(host, 'base.qcow2'), `${DISK_MIB}M`]);
      execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x77 0 ${DATA_MIB}M`, onHost(host, 'base.qcow2')]);
    }
    await makeOverlay('h1', 'i1.qcow2', 'base.qcow2');
    await defineGuest('i1', [{ file: 'i1.qcow2', format: 'qcow2' }]);
    const before = await waitForPasses(lab, 'h1', 'i1', 2);
    const result = expectOk(
      await lab.vmig(['-c', 'h1', '--json', 'migrate', 'i1', 'h2', '--copy-storage-inc', '--transport', 'tls']),
    );
    const final = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      disks: Array<{ target: string; copiedBytes: number }>;
    };
    // 2 MiB in the overlay, 24 MiB in the backing file: only the overlay travels.
    expect(final.disks[0]!.target).toBe('vda');
    expect(final.disks[0]!.copiedBytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(final.disks[0]!.copiedBytes).toBeLessThan(4 * MiB);
    await expectRunsOnlyOn(lab, 'h2', 'i1');
    await expectGuestContinued(lab, 'h2', 'i1', before);
    expect(statSync(onHost('h2', 'i1.qcow2')).blocks * 512).toBeLessThan(8 * MiB);
    expect(await holdsPattern('h2', 'i1.qcow2', 'qcow2', 0x33, 4 * MiB, 2 * MiB)).toBe(true);
    // The rest reads through to the backing file on h2.
    expect(await holdsPattern('h2', 'i1.qcow2', 'qcow2', 0x77, 0, 4 * MiB)).toBe(true);
  });

  describe('refusals: one line, exit 2, nothing created on h2', () => {
    beforeAll(async () => {
      makeImage('h1', 'r1.img', 'raw');
      makeImage('h1', 'r2-shared.img', 'raw');
      makeImage('h1', 'r2.img', 'raw');
      await defineGuest('r1', [{ file: 'r1.img', format: 'raw' }]);
      // vda on "shared" storage that h2 does not have, vdb local.
      await defineGuest('r2', [
        { file: 'r2-shared.img', format: 'raw', shared: true },
        { file: 'r2.img', format: 'raw', shared: false },
      ]);
    });

    /** The dry run refuses with the same line as the real run, and neither creates anything on h2. */
    async function refused(args: string[], pattern: RegExp): Promise<void> {
      const filesBefore = filesOn('h2');
      const qemuBefore = await qemuPids(lab, 'h2');
      for (const dryRun of [['--dry-run'], []]) {
        const result = await lab.vmig(['-c', 'h1', 'migrate', ...args, ...dryRun]);
        expectCleanFailure(result, 2, pattern);
        expect(filesOn('h2')).toEqual(filesBefore);
        expect(await qemuPids(lab, 'h2')).toEqual(qemuBefore);
      }
    }

    it('--dry-run with copied disks: the disks, where they go and the room for them; nothing created (flag or config file)', async () => {
      const filesBefore = filesOn('h2');
      const qemuBefore = await qemuPids(lab, 'h2');
      const config = join(lab.dir, 'copy-all.toml');
      await writeFile(config, 'copy_storage_all = true\n');
      for (const args of [
        ['-c', 'h1', 'migrate', 'r1', 'h2', '--dry-run', '--copy-storage-all'],
        ['--config', config, '-c', 'h1', 'migrate', 'r1', 'h2', '--dry-run'],
      ]) {
        const result = expectOk(await lab.vmig(args));
        expect(result.stdout).toMatch(/^Dry run: r1 from h1 to h2 would go ahead; nothing was changed\./);
        expect(result.stdout).toMatch(
          /disk vda\s+\S+\/r1\.img → h2:\S+\/r1\.img \(raw, 48\.0 MiB, full copy\), image to be created, needs 25\.0 MiB/,
        );
        expect(result.stdout).toMatch(/space\s+h2:\S+ has [\d.]+ [MGT]iB free, the copies need 25\.0 MiB/);
        expect(filesOn('h2')).toEqual(filesBefore);
        expect(await qemuPids(lab, 'h2')).toEqual(qemuBefore);
      }
      // --migrate-disks and --storage-map as a real run plans them; --json carries the same plan.
      execFileSync('mkdir', ['-p', onHost('h2', 'mapped')]);
      const json = JSON.parse(
        expectOk(
          await lab.vmig([
            '-c',
            'h1',
            'migrate',
            'r1',
            'h2',
            '--dry-run',
            '--json',
            '--copy-storage-all',
            '--migrate-disks',
            'vda',
            '--storage-map',
            `${lab.privateDir}=${inGuest('mapped')}`,
          ]),
        ).stdout,
      ) as { storage: { disks: Array<{ target: string; action: string; sync: string; destinationPath: string }> } };
      expect(json.storage.disks).toEqual([
        expect.objectContaining({
          target: 'vda',
          action: 'create',
          sync: 'full',
          destinationPath: inGuest('mapped/r1.img'),
        }),
      ]);
      expect(readdirSync(onHost('h2', 'mapped'))).toEqual([]);
      execFileSync('rmdir', [onHost('h2', 'mapped')]);
      expect(filesOn('h2')).toEqual(filesBefore);
      await expectRunsOnlyOn(lab, 'h1', 'r1');
    });

    it('--migrate-disks naming a disk the guest lacks', async () => {
      await refused(
        ['r1', 'h2', '--copy-storage-all', '--migrate-disks', 'vdz'],
        /--migrate-disks names vdz, which r1 does not have \(its disks: vda\)/,
      );
      await expectRunsOnlyOn(lab, 'h1', 'r1');
    });

    it('a file already at the destination path', async () => {
      await writeFile(onHost('h2', 'r1.img'), 'not yours');
      try {
        await refused(
          ['r1', 'h2', '--copy-storage-all'],
          /r1\.img already exists on h2 and .*: vmig does not overwrite it/,
        );
        expect(await readFile(onHost('h2', 'r1.img'), 'utf8')).toBe('not yours');
      } finally {
        execFileSync('rm', ['-f', onHost('h2', 'r1.img')]);
      }
    });

    it('not enough free space where the copy would go', async () => {
      // A 4 MiB file system at <private>/small, mounted in h2's own mount namespace (that of its sshd and agents).
      execFileSync('mkdir', ['-p', onHost('h2', 'small')]);
      const small = inGuest('small');
      let sshd: number | undefined;
      for (const pid of await lab.pids('h2'))
        if ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'sshd') sshd ??= pid;
      expect(sshd, 'the sshd of h2').toBeDefined();
      execFileSync('nsenter', ['-t', String(sshd), '-m', 'mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', small]);
      try {
        await refused(
          ['r1', 'h2', '--copy-storage-all', '--storage-map', `${lab.privateDir}=${small}`],
          /h2 has 4\.0 MiB free in .*small, the copied disks need 25\.0 MiB/,
        );
        expect(execFileSync('nsenter', ['-t', String(sshd), '-m', 'ls', '-A', small], { encoding: 'utf8' })).toBe('');
      } finally {
        execFileSync('nsenter', ['-t', String(sshd), '-m', 'umount', small]);
      }
    });

    it('a disk marked shared that the destination lacks', async () => {
      await refused(
        ['r2', 'h2', '--copy-storage-all', '--migrate-disks', 'vda'],
        /--migrate-disks names vda, which r2's definition marks as shared storage/,
      );
      await refused(['r2', 'h2', '--copy-storage-all'], /h2 lacks .*r2-shared\.img, which domain r2 needs/);
      await expectRunsOnlyOn(lab, 'h1', 'r2');
    });

    it('post-copy together with copied disks', async () => {
      await refused(
        ['r1', 'h2', '--copy-storage-all', '--postcopy-after-precopy'],
        /post-copy cannot be combined with --copy-storage-all/,
      );
    });
  });

  describe('failures mid-mirror: the guest runs on h1 on its own disk, no image left on h2, recover agrees', () => {
    async function midMirror(
      name: string,
      file: string,
      inject: (run: ProcHandle) => Promise<void>,
      exits: number[],
    ): Promise<void> {
      makeImage('h1', file, 'raw');
      const sum = execFileSync('sha256sum', [onHost('h1', file)], { encoding: 'utf8' }).split(' ')[0];
      await defineGuest(name, [{ file, format: 'raw' }]);
      const before = await waitForPasses(lab, 'h1', name, 2);
      const run = lab.spawnVmig(
        ['-c', 'h1', 'migrate', name, 'h2', '--copy-storage-all', '--transport', 'tls', '--bandwidth', '2'],
        { timeoutMs: 180_000 },
      );
      await run.waitForLine(/^perform: copying disks/m, { stream: 'stderr', timeoutMs: 90_000 });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(existsSync(onHost('h2', file)), 'the copy is being made on h2').toBe(true);
      await inject(run);
      const result = await run.wait();
      expect(exits, result.stderr).toContain(result.exitCode);
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
      // The agents finish on their own (controller loss): bounded wait for h2 to be clean.
      for (
        let attempt = 0;
        attempt < 60 && (existsSync(onHost('h2', file)) || (await qemuPids(lab, 'h2')).length > 0);
        attempt++
      )
        await new Promise((resolve) => setTimeout(resolve, 500));
      expect(existsSync(onHost('h2', file)), 'no image left on h2').toBe(false);
      expect(await qemuPids(lab, 'h2')).toEqual([]);
      let recover = await lab.vmig(['-c', 'h1', 'recover', name, '--destination', 'h2']);
      for (let attempt = 0; attempt < 10 && recover.exitCode === 5; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        recover = await lab.vmig(['-c', 'h1', 'recover', name, '--destination', 'h2']);
      }
      expectOk(recover);
      expect(recover.stdout).toMatch(new RegExp(`^(Nothing to recover|Recovered): ${name} runs on h1`, 'm'));
      await expectRunsOnlyOn(lab, 'h1', name);
      await expectGuestContinued(lab, 'h1', name, before);
      // No mirror left on the source, and its disk is untouched.
      const jobs = expectOk(
        await lab.vmig(['-c', 'h1', 'qemu-monitor-command', name, '{"execute":"query-block-jobs"}']),
      );
      expect(JSON.parse(jobs.stdout)).toEqual({ return: [] });
      expectOk(await lab.vmig(['-c', 'h1', 'destroy', name]));
      expect(execFileSync('sha256sum', [onHost('h1', file)], { encoding: 'utf8' }).split(' ')[0]).toBe(sum);
    }

    it('destination QEMU killed', async () => {
      await midMirror(
        'k1',
        'k1.img',
        async () => {
          for (const pid of await qemuPids(lab, 'h2')) process.kill(pid, 'SIGKILL');
        },
        [1],
      );
    });

    it('vmig domjobabort: exit 1, the mirrors cancelled', async () => {
      await midMirror(
        'a1',
        'a1.img',
        async () => {
          expectOk(await lab.vmig(['-c', 'h1', 'domjobabort', 'a1']));
        },
        [1],
      );
    });

    it('SIGINT of the controller (Ctrl-C): exit 1, the mirrors cancelled', async () => {
      await midMirror(
        'a2',
        'a2.img',
        async (run) => {
          expect(run.kill('SIGINT')).toBe(true);
          await run.waitForLine(/SIGINT: cancelling the migration; a2 stays on the source/, {
            stream: 'stderr',
            timeoutMs: 10_000,
          });
        },
        [1],
      );
    });

    it('controller killed', async () => {
      await midMirror(
        'k2',
        'k2.img',
        async (run) => {
          run.kill('SIGKILL');
        },
        [137],
      );
    });
  });
  describe('the disk content on the wire: never in clear over tls and ssh, in clear over direct (the control)', () => {
    /** A raw disk whose first MiB repeats a marker no other byte stream holds; the rest is sparse. */
    function markedImage(file: string): Buffer {
      const marker = Buffer.from(`vmig-wire-${randomBytes(12).toString('hex')}.`);
      const path = onHost('h1', file);
      const data = Buffer.alloc(MiB);
      for (let offset = 0; offset < data.length; offset += marker.length) marker.copy(data, offset);
      execFileSync('dd', [`of=${path}`, 'bs=1M', 'status=none'], { input: data });
      execFileSync('truncate', ['-s', `${DISK_MIB}M`, path]);
      return marker;
    }

    /** Every packet on the lab's switch (h1, h2 and the controller) while `name` moves, as pcap bytes. */
    async function captureMigration(name: string, transportArgs: string[]): Promise<Buffer> {
      const pcap = join(lab.dir, `${name}.pcap`);
      const capture = spawnProc(
        'ip',
        ['netns', 'exec', lab.switchNs, 'tcpdump', '-i', 'br0', '-s', '0', '-U', '-Z', 'root', '-w', pcap, 'tcp'],
        { timeoutMs: 240_000 },
      );
      try {
        await capture.waitForLine(/listening on br0/, { stream: 'stderr', timeoutMs: 20_000 });
        const result = await lab.vmig(['-c', 'h1', 'migrate', name, 'h2', '--copy-storage-all', ...transportArgs], {
          timeoutMs: 180_000,
        });
        expectOk(result);
        expect(result.stdout).toMatch(new RegExp(`^Migrated ${name} to h2 .*, disks vda `, 'm'));
      } finally {
        capture.kill('SIGINT');
        await capture.wait();
      }
      const bytes = await readFile(pcap);
      execFileSync('rm', ['-f', pcap]);
      return bytes;
    }

    for (const [transport, args, inClear] of [
      ['direct', ['--direct'], true],
      ['tls', ['--transport', 'tls'], false],
      ['ssh', ['--transport', 'ssh'], false],
    ] as const) {
      it(`${transport}: the marker ${inClear ? 'is' : 'is never'} seen on the wire`, async () => {
        const name = `w${transport}`;
        const marker = markedImage(`${name}.img`);
        await defineGuest(name, [{ file: `${name}.img`, format: 'raw' }]);
        const before = await waitForPasses(lab, 'h1', name, 2);
        const pcap = await captureMigration(name, [...args]);
        // The capture saw the migration: at least the disk's marked megabyte went through it, in some form.
        expect(pcap.length).toBeGreaterThan(MiB);
        expect(pcap.includes(marker), `marker in the ${transport} capture`).toBe(inClear);
        await expectRunsOnlyOn(lab, 'h2', name);
        await expectGuestContinued(lab, 'h2', name, before);
        expect(await holdsMarker('h2', `${name}.img`, marker)).toBe(true);
      });
    }

    /** Whether the image on a host starts with the marker (the copy arrived intact). */
    async function holdsMarker(host: string, file: string, marker: Buffer): Promise<boolean> {
      const head = await readFile(onHost(host, file)).then((data) => data.subarray(0, marker.length * 4));
      return head.equals(Buffer.concat([marker, marker, marker, marker]));
    }
  });
  it('evacuate --copy-storage-all: a guest whose disk does not fit the destination is reported unplaced with the reason and stays on h1 (exit 6); the other moves', async () => {
    // e2's disk lives under <private>/tight on h1 and maps to a 4 MiB file system on h2; e1's fits at its own path.
    execFileSync('mkdir', ['-p', onHost('h1', 'tight'), onHost('h2', 'small')]);
    makeImage('h1', 'e1.img', 'raw');
    makeImage('h1', 'tight/e2.img', 'raw');
    await defineGuest('e1', [{ file: 'e1.img', format: 'raw' }]);
    await defineGuest('e2', [{ file: 'tight/e2.img', format: 'raw' }]);
    const before1 = await waitForPasses(lab, 'h1', 'e1', 2);
    const before2 = await waitForPasses(lab, 'h1', 'e2', 2);
    const small = inGuest('small');
    let sshd: number | undefined;
    for (const pid of await lab.pids('h2'))
      if ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'sshd') sshd ??= pid;
    expect(sshd, 'the sshd of h2').toBeDefined();
    execFileSync('nsenter', ['-t', String(sshd), '-m', 'mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', small]);
    try {
      const result = await lab.vmig(
        [
          'evacuate',
          'h1',
          '--to',
          'h2',
          '--only',
          'e1,e2',
          '--copy-storage-all',
          '--storage-map',
          `${inGuest('tight')}=${small}`,
          '--json',
        ],
        { timeoutMs: 240_000 },
      );
      expect(result.exitCode, result.stderr).toBe(6);
      const report = result.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { type: string; guests?: Array<Record<string, unknown>> })
        .find((event) => event.type === 'report');
      expect(report?.guests).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ domain: 'e1', status: 'migrated', finalHost: 'h2' }),
          expect.objectContaining({
            domain: 'e2',
            status: 'unplaced',
            finalHost: 'h1',
            reason: expect.stringMatching(/h2 has 4\.0 MiB free in \S+small, the copied disks need 25\.0 MiB/),
          }),
        ]),
      );
      expect(execFileSync('nsenter', ['-t', String(sshd), '-m', 'ls', '-A', small], { encoding: 'utf8' })).toBe('');
    } finally {
      execFileSync('nsenter', ['-t', String(sshd), '-m', 'umount', small]);
    }
    await expectRunsOnlyOn(lab, 'h2', 'e1');
    await expectGuestContinued(lab, 'h2', 'e1', before1);
    await expectRunsOnlyOn(lab, 'h1', 'e2');
    await expectGuestContinued(lab, 'h1', 'e2', before2);
  });
});
