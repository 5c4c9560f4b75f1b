import { describe, expect, it } from 'vitest';
import { VmigError } from '../../../src/errors.js';
import {
  checkStorageFlags,
  destinationDisks,
  mapPath,
  parseStorageMap,
  planStorage,
  type SourceDisk,
} from '../../../src/storage/plan.js';

const GiB = 1024 ** 3;
const disk = (target: string, extra: Partial<SourceDisk> = {}): SourceDisk => ({
  target,
  path: `/srv/local/${target}.img`,
  format: 'raw',
  virtualSize: 10 * GiB,
  topAllocated: 2 * GiB,
  chainAllocated: 2 * GiB,
  ...extra,
});

function refusal(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(VmigError);
    expect((error as VmigError).exitCode).toBe(2);
    return (error as VmigError).message;
  }
  throw new Error('expected a refusal');
}

describe('planStorage', () => {
  it('copies nothing without a copy option, and refuses disk flags alone', () => {
    expect(planStorage('web1', [disk('vda')], {})).toEqual([]);
    expect(refusal(() => planStorage('web1', [disk('vda')], { migrateDisks: ['vda'] }))).toBe(
      '--migrate-disks needs --copy-storage-all or --copy-storage-inc',
    );
    expect(refusal(() => checkStorageFlags({ storageMap: [{ from: '/a', to: '/b' }] }))).toMatch(
      /^--storage-map needs/,
    );
    expect(refusal(() => checkStorageFlags({ copyAll: true, copyInc: true }))).toMatch(/exclude each other/);
  });

  it('copies the disks marked local, or every unmarked disk when none is', () => {
    const marked = [disk('vda', { shared: true }), disk('vdb', { shared: false }), disk('vdc')];
    expect(planStorage('web1', marked, { copyAll: true }).map((copy) => copy.target)).toEqual(['vdb']);
    const unmarked = [disk('vda'), disk('vdb', { shared: true })];
    expect(planStorage('web1', unmarked, { copyAll: true }).map((copy) => copy.target)).toEqual(['vda']);
    expect(refusal(() => planStorage('web1', [disk('vda', { shared: true })], { copyAll: true }))).toBe(
      'web1 has no disk to copy (every disk is marked shared)',
    );
  });

  it('chooses by --migrate-disks, naming an unknown or shared disk', () => {
    const disks = [disk('vda'), disk('vdb'), disk('vdc', { shared: true })];
    expect(planStorage('web1', disks, { copyAll: true, migrateDisks: ['vdb'] }).map((copy) => copy.target)).toEqual([
      'vdb',
    ]);
    expect(refusal(() => planStorage('web1', disks, { copyAll: true, migrateDisks: ['vdz'] }))).toBe(
      '--migrate-disks names vdz, which web1 does not have (its disks: vda, vdb, vdc)',
    );
    expect(refusal(() => planStorage('web1', disks, { copyAll: true, migrateDisks: ['vdc'] }))).toMatch(
      /marks as shared storage/,
    );
  });

  it('copies the whole chain with --copy-storage-all and only the top layer with --copy-storage-inc', () => {
    const overlay = disk('vda', {
      format: 'qcow2',
      topAllocated: 100 * 1024 ** 2,
      chainAllocated: 3 * GiB,
      backing: { path: '/srv/shared/base.qcow2', format: 'qcow2' },
    });
    const [all] = planStorage('web1', [overlay], { copyAll: true });
    expect(all).toMatchObject({ sync: 'full', neededBytes: 3 * GiB + 1024 ** 2 });
    expect(all?.backing).toBeUndefined();
    const [inc] = planStorage('web1', [overlay], { copyInc: true });
    expect(inc).toMatchObject({
      sync: 'top',
      backing: { path: '/srv/shared/base.qcow2', format: 'qcow2' },
      neededBytes: 101 * 1024 ** 2,
    });
  });

  it('maps destination paths by the longest matching directory', () => {
    const map = parseStorageMap(['/srv=/data', '/srv/local/=/fast']);
    expect(map).toEqual([
      { from: '/srv', to: '/data' },
      { from: '/srv/local', to: '/fast' },
    ]);
    expect(mapPath('/srv/local/vda.img', map)).toBe('/fast/vda.img');
    expect(mapPath('/srv/other/x.img', map)).toBe('/data/other/x.img');
    expect(mapPath('/srvx/a.img', map)).toBe('/srvx/a.img');
    expect(refusal(() => parseStorageMap(['relative=/x']))).toMatch(/SOURCE_DIR=DESTINATION_DIR/);
    const copies = planStorage('web1', [disk('vda'), disk('vdb')], {
      copyAll: true,
      storageMap: map,
      migrateDisks: ['vdb'],
    });
    expect(
      destinationDisks(
        [
          { target: 'vda', path: '/srv/local/vda.img' },
          { target: 'vdb', path: '/srv/local/vdb.img' },
        ],
        copies,
      ),
    ).toEqual([
      { target: 'vda', path: '/srv/local/vda.img' },
      { target: 'vdb', path: '/fast/vdb.img' },
    ]);
  });
});
