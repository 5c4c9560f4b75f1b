import { describe, expect, it } from 'vitest';
import { bookDisks, diskNeeds, diskObstacle, openDiskLedger } from '../../../src/controller/evacuate-disks.js';

const MiB = 1024 * 1024;

describe('evacuate placement: free disk space for copied disks', () => {
  const ledger = () =>
    openDiskLedger([
      {
        host: 'h2',
        diskSpace: [
          { directory: '/srv/a', device: 1, availableBytes: 100 * MiB },
          // The same file system as /srv/a: they share its room.
          { directory: '/srv/b', device: 1, availableBytes: 100 * MiB },
          { directory: '/small', device: 2, availableBytes: 4 * MiB },
          { directory: '/gone', missing: true },
        ],
      },
      { host: 'h3' },
    ]);

  it('needs per destination directory, from the planned copies', () => {
    expect(
      diskNeeds([
        { destinationPath: '/srv/a/x.img', neededBytes: 10 },
        { destinationPath: '/srv/a/y.img', neededBytes: 5 },
        { destinationPath: '/z.img', neededBytes: 1 },
      ]),
    ).toEqual([
      { directory: '/srv/a', bytes: 15 },
      { directory: '/', bytes: 1 },
    ]);
  });

  it('fits, does not fit (with the numbers), a missing directory; none needed: no obstacle', () => {
    const disks = ledger();
    expect(diskObstacle(disks, 'h2', [{ directory: '/srv/a', bytes: 60 * MiB }])).toBeUndefined();
    expect(diskObstacle(disks, 'h2', [{ directory: '/small', bytes: 25 * MiB }])).toBe(
      'h2 has 4.0 MiB free in /small, the copied disks need 25.0 MiB',
    );
    expect(diskObstacle(disks, 'h2', [{ directory: '/gone', bytes: 1 }])).toBe(
      'h2 has no directory /gone for the copied disks',
    );
    expect(diskObstacle(disks, 'h2', undefined)).toBeUndefined();
    expect(diskObstacle(disks, 'h2', [])).toBeUndefined();
    // A directory the facts do not know (or a host without facts) is left to Prepare's own check.
    expect(diskObstacle(disks, 'h2', [{ directory: '/elsewhere', bytes: 10 ** 15 }])).toBeUndefined();
    expect(diskObstacle(disks, 'h3', [{ directory: '/srv/a', bytes: 10 ** 15 }])).toBeUndefined();
  });

  it('directories of one file system share its room; booking and giving back move it', () => {
    const disks = ledger();
    // 60 + 60 MiB on one device of 100 MiB: too much together, though each directory alone shows 100 MiB.
    expect(
      diskObstacle(disks, 'h2', [
        { directory: '/srv/a', bytes: 60 * MiB },
        { directory: '/srv/b', bytes: 60 * MiB },
      ]),
    ).toBe('h2 has 100.0 MiB free in /srv/a, the copied disks need 120.0 MiB');
    const guest = [{ directory: '/srv/a', bytes: 60 * MiB }];
    bookDisks(disks, 'h2', guest, 1);
    expect(diskObstacle(disks, 'h2', [{ directory: '/srv/b', bytes: 60 * MiB }])).toBe(
      'h2 has 40.0 MiB free in /srv/b, the copied disks need 60.0 MiB',
    );
    bookDisks(disks, 'h2', guest, -1);
    expect(diskObstacle(disks, 'h2', [{ directory: '/srv/b', bytes: 60 * MiB }])).toBeUndefined();
  });
});
