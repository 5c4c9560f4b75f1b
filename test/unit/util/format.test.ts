import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration } from '../../../src/util/format.js';

describe('formatBytes / formatDuration', () => {
  it('uses binary units with one decimal above bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(256 * 1024 * 1024)).toBe('256.0 MiB');
    expect(formatBytes(3 * 1024 ** 4)).toBe('3.0 TiB');
    expect(formatBytes(2 * 1024 ** 5)).toBe('2048.0 TiB');
  });

  it('formats durations in ms, s and min', () => {
    expect(formatDuration(57)).toBe('57 ms');
    expect(formatDuration(2500)).toBe('2.5 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
  });
});
