// What `npm pack` ships: the CLI, its completions and manual; never the namespace lab, the benchmark or the
// test guest (they stay in the repository for npm run demo / bench and the e2e tests).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

describe.skipIf(!existsSync(join(root, 'dist', 'cli', 'main.js')))('npm pack', () => {
  const [pack] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  ) as Array<{ files: Array<{ path: string }> }>;
  const files = pack!.files.map((file) => file.path);

  it('lists no lab, bench or test code', () => {
    expect(files.filter((path) => /^dist\/(lab|bench)\/|^src\/|^test\//.test(path))).toEqual([]);
  });

  it('ships the CLI, the agent, the completions and the manual', () => {
    for (const path of [
      'bin/vmig',
      'dist/cli/main.js',
      'dist/agent/main.js',
      'dist/options/table.js',
      'completions/vmig.bash',
      'completions/vmig.zsh',
      'completions/vmig.fish',
      'man/vmig.1',
      'package.json',
    ]) {
      expect(files).toContain(path);
    }
  });

  it('needs nothing it does not ship: no shipped module imports lab or bench code', () => {
    const shipped = files.filter((path) => path.endsWith('.js'));
    const offenders = shipped.filter((path) =>
      /from '\.\.\/(lab|bench)\//.test(readFileSync(join(root, path), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
