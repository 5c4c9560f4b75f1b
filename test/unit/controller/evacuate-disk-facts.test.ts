// Gathering for evacuate's disk-space placement, against fake agents: needs per guest and destination (after
// --storage-map), free space asked only where copies would go, guests on shared storage and unreadable guests
// without needs, nothing asked when no destination copies disks.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { gatherDiskFacts } from '../../../src/controller/evacuate-disk-facts.js';
import type { HostConnection } from '../../../src/hosts/connection.js';

const MiB = 1024 * 1024;

function fake(label: string, answer: (method: string, params: Record<string, unknown>) => unknown, calls: string[]) {
  return {
    label,
    events: new EventEmitter(),
    call: (async (method: string, params: Record<string, unknown>) => {
      calls.push(`${label} ${method} ${JSON.stringify(params)}`);
      const result = answer(method, params);
      if (result instanceof Error) throw result;
      return result;
    }) as HostConnection['call'],
  } as unknown as HostConnection;
}

const disk = (target: string, path: string, shared?: boolean) => ({
  target,
  path,
  format: 'raw',
  virtualSize: 48 * MiB,
  topAllocated: 24 * MiB,
  chainAllocated: 24 * MiB,
  ...(shared !== undefined ? { shared } : {}),
});

describe('evacuate: gathering the disk facts', () => {
  it('plans each guest per destination and asks each destination about the directories its copies need', async () => {
    const calls: string[] = [];
    const source = fake(
      'h1',
      (_method, params) =>
        params.name === 'local'
          ? { disks: [disk('vda', '/srv/local.img'), disk('vdb', '/srv/sub/local-b.img')] }
          : params.name === 'shared'
            ? { disks: [disk('vda', '/nfs/shared.img', true)] }
            : new Error('gone'),
      calls,
    );
    const h2 = fake(
      'h2',
      (_method, params) => ({
        spaces: (params.paths as string[]).map((path) => ({
          path,
          directory: path.slice(0, path.lastIndexOf('/')),
          device: 7,
          availableBytes: 100 * MiB,
        })),
      }),
      calls,
    );
    const h3 = fake('h3', () => ({ spaces: [] }), calls);
    const facts = await gatherDiskFacts(
      source,
      new Map([
        ['h2', h2],
        ['h3', h3],
      ]),
      ['local', 'shared', 'vanished'],
      (host) => (host === 'h2' ? { copyAll: true, storageMap: [{ from: '/srv/sub', to: '/big' }] } : undefined),
    );
    expect([...facts.needs.keys()]).toEqual(['local']);
    expect(facts.needs.get('local')?.get('h2')).toEqual([
      { directory: '/srv', bytes: 25 * MiB },
      { directory: '/big', bytes: 25 * MiB },
    ]);
    expect(facts.needs.get('local')?.has('h3')).toBe(false);
    expect(facts.spaces.get('h2')).toEqual([
      { directory: '/srv', device: 7, availableBytes: 100 * MiB },
      { directory: '/big', device: 7, availableBytes: 100 * MiB },
    ]);
    expect(calls.filter((call) => call.startsWith('h3'))).toEqual([]);
  });

  it('no destination copies disks: no agent is asked anything', async () => {
    const calls: string[] = [];
    const facts = await gatherDiskFacts(
      fake('h1', () => ({ disks: [] }), calls),
      new Map([['h2', fake('h2', () => ({ spaces: [] }), calls)]]),
      ['g1'],
      () => undefined,
    );
    expect(calls).toEqual([]);
    expect(facts.needs.size).toBe(0);
  });
});
