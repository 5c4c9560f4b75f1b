import { describe, expect, it } from 'vitest';
import { LineDecoder, encodeLine } from '../../../src/protocol/framing.js';

describe('LineDecoder', () => {
  it('returns nothing until a line is complete, then the value', () => {
    const decoder = new LineDecoder();
    expect(decoder.push('{"id":1,"res')).toEqual([]);
    expect(decoder.push('ult":true}')).toEqual([]);
    expect(decoder.push('\n')).toEqual([{ id: 1, result: true }]);
  });

  it('returns several values from one chunk and keeps the tail', () => {
    const decoder = new LineDecoder();
    expect(decoder.push('{"a":1}\n\r\n  \n{"b":2}\r\n{"c":')).toEqual([{ a: 1 }, { b: 2 }]);
    expect(decoder.push(Buffer.from('3}\n'))).toEqual([{ c: 3 }]);
  });

  it('round-trips encodeLine', () => {
    const value = { event: 'progress', data: { pass: 2, note: 'line\nbreak' } };
    const line = encodeLine(value);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(new LineDecoder().push(line)).toEqual([value]);
  });

  it('throws on a malformed line, quoting its start', () => {
    const decoder = new LineDecoder();
    expect(() => decoder.push('SSH-2.0-OpenSSH_9.6 banner\n')).toThrow(/malformed protocol line: SSH-2\.0-OpenSSH_9\.6/);
  });

  it('decodes a multi-byte character split across Buffer chunks', () => {
    const bytes = Buffer.from('{"desc":"café"}\n', 'utf8');
    const split = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    const decoder = new LineDecoder();
    expect(decoder.push(bytes.subarray(0, split))).toEqual([]);
    expect(decoder.push(bytes.subarray(split))).toEqual([{ desc: 'café' }]);
  });
});
