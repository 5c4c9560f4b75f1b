import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, table, useColor } from '../../../src/cli/output.js';

const tty = { isTTY: true } as NodeJS.WriteStream;
const pipe = { isTTY: false } as NodeJS.WriteStream;

describe('useColor', () => {
  it('colours a TTY by default and not a pipe', () => {
    expect(useColor(tty, true, { TERM: 'xterm-256color' })).toBe(true);
    expect(useColor(pipe, true, {})).toBe(false);
    expect(useColor(tty, true, { TERM: 'dumb' })).toBe(false);
  });

  it('never colours with --no-color, even when forced', () => {
    expect(useColor(tty, false, { FORCE_COLOR: '1' })).toBe(false);
  });

  it('honours a non-empty NO_COLOR over FORCE_COLOR', () => {
    expect(useColor(tty, true, { NO_COLOR: '1' })).toBe(false);
    expect(useColor(tty, true, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(false);
    expect(useColor(tty, true, { NO_COLOR: '' })).toBe(true);
  });

  it('lets FORCE_COLOR colour a pipe, except FORCE_COLOR=0', () => {
    expect(useColor(pipe, true, { FORCE_COLOR: '1' })).toBe(true);
    expect(useColor(pipe, true, { FORCE_COLOR: '0' })).toBe(false);
  });
});

describe('table', () => {
  it('aligns columns under a full-width rule without trailing spaces', () => {
    const text = table(['NAME', 'STATE', 'HOST'], [['web1', 'running', 'h1'], ['database', 'shut off', '']]);
    expect(text.split('\n')).toEqual([
      'NAME       STATE      HOST',
      '-'.repeat(26),
      'web1       running    h1',
      'database   shut off',
    ]);
  });

  it('prints just the header for no rows', () => {
    expect(table(['ID'], [])).toBe('ID\n--');
  });
});

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
