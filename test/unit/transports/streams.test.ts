import { describe, expect, it } from 'vitest';
import { cookieSchema, mintCookie } from '../../../src/transports/cookie.js';
import {
  checkStreamSet,
  diskStream,
  isStreamId,
  migrationStreams,
  outgoingSockets,
  sourceSocketOf,
} from '../../../src/transports/streams.js';
import { refusalLog } from '../../../src/transports/tunnel.js';

describe('stream set', () => {
  it("names QEMU's streams: ram, then one per multifd channel", () => {
    expect(migrationStreams()).toEqual(['ram']);
    expect(migrationStreams(1)).toEqual(['ram']);
    expect(migrationStreams(3)).toEqual(['ram', 'multifd-0', 'multifd-1', 'multifd-2']);
  });

  it('accepts only well-formed ids', () => {
    for (const id of ['ram', 'multifd-0', 'multifd-63', 'disk-vda', 'disk-drive_0.x'])
      expect(isStreamId(id)).toBe(true);
    for (const id of [
      '',
      'RAM',
      'multifd-64',
      'multifd-01',
      'disk-',
      'disk-a/b',
      'disk-../x',
      `disk-${'a'.repeat(33)}`,
      'ram ',
    ])
      expect(isStreamId(id)).toBe(false);
    expect(diskStream('vda')).toBe('disk-vda');
    expect(() => diskStream('a b')).toThrow(/cannot name a disk stream/);
  });

  it('a set holds ram once and no id twice', () => {
    expect(checkStreamSet(['ram', 'multifd-0', 'disk-vda'])).toBeUndefined();
    expect(checkStreamSet(['multifd-0'])).toMatch(/no ram/);
    expect(checkStreamSet(['ram', 'disk-vda', 'disk-vda'])).toMatch(/twice/);
  });

  it("groups the source sockets: QEMU's streams share out.sock, in connection order; each disk has its own", () => {
    expect(outgoingSockets('/run/vm', ['ram', 'multifd-0', 'multifd-1', 'disk-vda'])).toEqual([
      { path: '/run/vm/out.sock', streams: ['ram', 'multifd-0', 'multifd-1'] },
      { path: '/run/vm/out-disk-vda.sock', streams: ['disk-vda'] },
    ]);
    expect(sourceSocketOf('/run/vm', 'disk-vdb')).toBe('/run/vm/out-disk-vdb.sock');
  });

  it('travels in the cookie, which defaults to ram alone and refuses a bad set', () => {
    const cookie = mintCookie('5f0c2a7e-1b2d-4c3e-8f9a-0a1b2c3d4e5f', 'tls', undefined, 1_000, ['ram', 'multifd-0']);
    expect(cookieSchema.parse(cookie).streams).toEqual(['ram', 'multifd-0']);
    const { streams: _dropped, ...old } = cookie;
    expect(cookieSchema.parse(old).streams).toEqual(['ram']);
    expect(() => cookieSchema.parse({ ...cookie, streams: ['ram', 'ram'] })).toThrow();
    expect(() => cookieSchema.parse({ ...cookie, streams: ['multifd-0'] })).toThrow();
  });
});

describe('refusal log', () => {
  it('logs the first refusals of a window, then one line for the rest', () => {
    const lines: string[] = [];
    let now = 0;
    const log = refusalLog((line) => lines.push(line), { burst: 2, windowMs: 1_000, now: () => now });
    for (let i = 0; i < 50; i++) log.refused(`refused ${i}`);
    expect(lines).toEqual(['refused 0', 'refused 1']);
    now = 1_500;
    log.refused('refused late');
    expect(lines).toEqual([
      'refused 0',
      'refused 1',
      '… and 48 more refused connection(s) not logged one by one',
      'refused late',
    ]);
    log.flush();
    expect(lines).toHaveLength(4);
  });
});
