// host.toml's destination policy keys: secure defaults, and a typo or bad value named.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { incomingPolicy, loadHostConfig } from '../../../src/agent/host-config.js';

const dir = mkdtempSync(join(tmpdir(), 'vmig-hostcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const load = (text: string) => {
  const path = join(dir, 'host.toml');
  writeFileSync(path, text);
  return loadHostConfig({ VMIG_HOST_CONFIG: path });
};

describe('host.toml destination policy', () => {
  it('defaults: -device only, world-readable kernels, disks under /srv and the usual image dirs', async () => {
    expect(incomingPolicy(await loadHostConfig({ VMIG_HOST_CONFIG: join(dir, 'absent.toml') }))).toEqual({
      extraArgs: 'devices',
      diskPaths: ['/srv/', '/var/lib/vmig/images/', '/var/lib/libvirt/images/'],
    });
  });

  it('reads the keys', async () => {
    expect(
      incomingPolicy(
        await load(
          'incoming_extra_args = "refuse"\nincoming_kernel_paths = ["/srv/images"]\nincoming_disk_paths = ["/data/vm"]\n',
        ),
      ),
    ).toEqual({
      extraArgs: 'refuse',
      kernelPaths: ['/srv/images'],
      diskPaths: ['/data/vm'],
    });
  });

  it('names a bad value', async () => {
    await expect(load('incoming_extra_args = "yes"\n')).rejects.toThrow(/host config .*: incoming_extra_args: /);
    await expect(load('incoming_disk_paths = ["relative/dir"]\n')).rejects.toThrow(
      /incoming_disk_paths.0: must be absolute directories without "\.\."/,
    );
    await expect(load('incoming_disk_paths = ["/srv/../etc"]\n')).rejects.toThrow(
      /incoming_disk_paths.0: must be absolute/,
    );
  });
});
