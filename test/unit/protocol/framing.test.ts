import { describe, expect, it } from 'vitest';
import { FramingError, LineDecoder, encodeLine } from '../../../src/protocol/framing.js';

/** The values one push delivers (and, if it threw, the error after them). */
function push(decoder: LineDecoder, chunk: Buffer | string): { values: unknown[]; error?: Error } {
  const values: unknown[] = [];
  try {
    // (An array return is how the decoder worked before it took a callback: kept so these tests also run against it.)
    const returned: unknown = decoder.push(chunk, (value) => values.push(value));
    if (Array.isArray(returned)) values.push(...(returned as unknown[]));
    return { values };
  } catch (error) {
    return { values, error: error as Error };
  }
}
const values = (decoder: LineDecoder, chunk: Buffer | string): unknown[] => push(decoder, chunk).values;

describe('LineDecoder', () => {
  it('returns nothing until a line is complete, then the value', () => {
    const decoder = new LineDecoder();
    expect(values(decoder, '{"id":1,"res')).toEqual([]);
    expect(values(decoder, 'ult":true}')).toEqual([]);
    expect(values(decoder, '\n')).toEqual([{ id: 1, result: true }]);
  });

  it('returns several values from one chunk and keeps the tail', () => {
    const decoder = new LineDecoder();
    expect(values(decoder, '{"a":1}\n\r\n  \n{"b":2}\r\n{"c":')).toEqual([{ a: 1 }, { b: 2 }]);
    expect(values(decoder, Buffer.from('3}\n'))).toEqual([{ c: 3 }]);
  });

  it('round-trips encodeLine', () => {
    const value = { event: 'progress', data: { pass: 2, note: 'line\nbreak' } };
    const line = encodeLine(value);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(values(new LineDecoder(), line)).toEqual([value]);
  });

  it('throws on a malformed line, quoting its start', () => {
    const { error } = push(new LineDecoder(), 'SSH-2.0-OpenSSH_9.6 banner\n');
    expect(error).toBeInstanceOf(FramingError);
    expect(error?.message).toMatch(/malformed protocol line: SSH-2\.0-OpenSSH_9\.6/);
  });

  it('delivers the valid values before a malformed line of the same chunk, then stops', () => {
    const decoder = new LineDecoder();
    const result = push(
      decoder,
      '{"id":1,"method":"ping"}\n{"id":2,"method":"list"}\nnot json\n{"id":3,"method":"ping"}\n',
    );
    expect(result.values).toEqual([
      { id: 1, method: 'ping' },
      { id: 2, method: 'list' },
    ]);
    expect(result.error).toBeInstanceOf(FramingError);
    // Closed by the bad line: what follows is not read.
    expect(values(decoder, '{"id":4,"method":"ping"}\n')).toEqual([]);
  });

  it('decodes a multi-byte character split across Buffer chunks', () => {
    const bytes = Buffer.from('{"desc":"café"}\n', 'utf8');
    const split = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    const decoder = new LineDecoder();
    expect(values(decoder, bytes.subarray(0, split))).toEqual([]);
    expect(values(decoder, bytes.subarray(split))).toEqual([{ desc: 'café' }]);
  });

  it('caps the line length, in one chunk and across chunks', () => {
    const whole = push(new LineDecoder(64), `{"pad":"${'x'.repeat(100)}"}\n`);
    expect(whole.values).toEqual([]);
    expect(whole.error?.message).toBe('protocol message longer than 64 bytes');

    const decoder = new LineDecoder(64);
    expect(push(decoder, `{"pad":"${'x'.repeat(40)}`).error).toBeUndefined();
    const overflow = push(decoder, 'x'.repeat(40));
    expect(overflow.error?.message).toBe('protocol message longer than 64 bytes');
    expect(decoder.buffered).toBe(0);
    // A line of exactly the cap passes.
    const exact = `{"p":"${'y'.repeat(64 - 8)}"}`;
    expect(Buffer.byteLength(exact)).toBe(64);
    expect(values(new LineDecoder(64), `${exact}\n`)).toEqual([{ p: 'y'.repeat(56) }]);
  });

  it('buffers nothing after close', () => {
    const decoder = new LineDecoder();
    decoder.push('{"id":1,', () => undefined);
    expect(decoder.buffered).toBe(8);
    decoder.close();
    expect(decoder.buffered).toBe(0);
    expect(values(decoder, '"method":"ping"}\n{"id":2,"method":"ping"}\n{"id":3')).toEqual([]);
    expect(decoder.buffered).toBe(0);
  });

  it('scans each byte once: a 15 MiB line in 16 KiB chunks costs milliseconds, not the seconds of a rescan per chunk', () => {
    const decoder = new LineDecoder();
    const chunk = Buffer.alloc(16 * 1024, 'a');
    decoder.push('{"pad":"', () => undefined);
    const started = process.hrtime.bigint();
    for (let i = 0; i < 960; i++) decoder.push(chunk, () => undefined);
    const got: unknown[] = [];
    decoder.push('"}\n', (value) => got.push(value));
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect((got[0] as { pad: string }).pad).toHaveLength(960 * 16 * 1024);
    // A rescan of the whole buffer per chunk is quadratic: ~7.5 GB scanned here, several seconds.
    expect(elapsedMs).toBeLessThan(1_500);
  });
});
