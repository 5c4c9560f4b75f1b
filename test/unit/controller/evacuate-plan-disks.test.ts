// Evacuate placement with copied disks: free disk space is one more input of the pure placement.
import { describe, expect, it } from 'vitest';
import {
  planEvacuation,
  planRetry,
  type DestinationFacts,
  type EvacGuest,
} from '../../../src/controller/evacuate-plan.js';

const MiB = 1024 * 1024;

const destination = (host: string, memAvailableMiB: number, freeBytes: number): DestinationFacts => ({
  host,
  memAvailableMiB,
  hostHeadroomMiB: 0,
  guests: [],
  diskSpace: [{ directory: '/srv', device: 1, availableBytes: freeBytes }],
});

const guest = (name: string, memoryMiB: number, diskMiB: number, hosts: string[]): EvacGuest => ({
  name,
  memoryMiB,
  state: 'running',
  diskNeeds: new Map(hosts.map((host) => [host, [{ directory: '/srv', bytes: diskMiB * MiB }]])),
});

describe('evacuate placement: free disk space for --copy-storage-all', () => {
  it('a destination with memory but no disk room is passed over; the guest goes where its disk fits', () => {
    // h2 has the most memory but only 10 MiB of disk; h3 less memory and room for the disk.
    const plan = planEvacuation(
      [guest('g1', 64, 25, ['h2', 'h3'])],
      [destination('h2', 4096, 10 * MiB), destination('h3', 1024, 100 * MiB)],
    );
    expect(plan.placements.map((placement) => [placement.guest.name, placement.destination])).toEqual([['g1', 'h3']]);
    expect(plan.unplaced).toEqual([]);
  });

  it('disk room is booked as guests are placed: the one that no longer fits is unplaced, with each reason', () => {
    const plan = planEvacuation(
      [
        guest('big', 128, 60, ['h2']),
        guest('small', 64, 60, ['h2']),
        { name: 'shared', memoryMiB: 64, state: 'running' },
      ],
      [destination('h2', 4096, 100 * MiB)],
    );
    expect(plan.placements.map((placement) => placement.guest.name)).toEqual(['big', 'shared']);
    expect(plan.unplaced).toHaveLength(1);
    expect(plan.unplaced[0]!.guest.name).toBe('small');
    expect(plan.unplaced[0]!.reason).toBe(
      'no destination has room for 64 MiB and its copied disks (h2 has 40.0 MiB free in /srv, the copied disks need 60.0 MiB)',
    );
  });

  it('a retry gives the disk room back on the failed destination and books it on the next', () => {
    const g1 = guest('g1', 64, 60, ['h2', 'h3']);
    const plan = planEvacuation([g1], [destination('h2', 4096, 100 * MiB), destination('h3', 1024, 70 * MiB)]);
    expect(plan.placements[0]!.destination).toBe('h2');
    const retry = planRetry(plan, g1, new Set(['h2']), 'h2');
    expect(retry).toMatchObject({ destination: 'h3' });
    expect(plan.disks.free.get('h2')?.get('1')).toBe(100 * MiB);
    expect(plan.disks.free.get('h3')?.get('1')).toBe(10 * MiB);
  });
});
