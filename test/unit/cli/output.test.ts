import { describe, expect, it } from 'vitest';
import { table, useColor } from '../../../src/cli/output.js';

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
    const text = table(
      ['NAME', 'STATE', 'HOST'],
      [
        ['web1', 'running', 'h1'],
        ['database', 'shut off', ''],
      ],
    );
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
