// First impressions: help examples lead with the secure default and --tunnelled; --direct comes last, with its warning.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const examples = (args: string[]): string[] => {
  const help = execFileSync('node', ['bin/vmig', ...args], { cwd: root, encoding: 'utf8' });
  return help.split('\n').filter((line) => line.trimStart().startsWith('$ vmig') && line.includes(' migrate '));
};

describe.skipIf(!existsSync(join(root, 'dist', 'cli', 'main.js')))('help examples', () => {
  it.each([[['--help']], [['migrate', '--help']]])(
    'vmig %s: secure default first, --tunnelled next, --direct last with a warning',
    (args) => {
      const lines = examples(args);
      expect(lines[0]).not.toMatch(/--direct|--transport/);
      expect(lines[0]).toMatch(/encrypted by default/);
      expect(lines[1]).toMatch(/--tunnelled/);
      expect(lines.at(-1)).toMatch(/--direct\s+# WARNING: unencrypted, unauthenticated/);
      expect(lines.slice(0, -1).filter((line) => line.includes('--direct'))).toEqual([]);
    },
  );
});
