// `vmig --help` and `--version` must stay fast: `--version` loads nothing; for help only commander and the program definition load, never ssh2,
// ora, zod or the config loader (those load when a command runs). Checks the built CLI (npm run test:unit builds).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'vmig-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, 'hooks.mjs'),
  `export async function resolve(s, c, next) { const r = await next(s, c); if (!r.url.startsWith('node:')) process.stderr.write('LOAD ' + r.url + '\\n'); return r; }\n`,
);
writeFileSync(
  join(dir, 'register.mjs'),
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`,
);

const loaded = (args: string[]): string[] => {
  const out = execFileSync(
    'sh',
    ['-c', `node --import ${join(dir, 'register.mjs')} bin/vmig ${args.join(' ')} 2>&1 >/dev/null`],
    { cwd: root, encoding: 'utf8' },
  );
  return out
    .split('\n')
    .filter((line) => line.startsWith('LOAD '))
    .map((line) => line.slice(5));
};

describe.skipIf(!existsSync(join(root, 'dist', 'cli', 'main.js')))('start-up', () => {
  it('vmig --version answers from bin/vmig alone: no CLI module, no dependency', () => {
    for (const flag of ['--version', '-V'])
      expect(loaded([flag]).filter((url) => /node_modules|\/dist\//.test(url))).toEqual([]);
  });

  it.each([['--help'], ['migrate', '--help'], ['host', 'install', '--help']])(
    'vmig %s loads nothing heavy',
    (...args) => {
      const modules = loaded(args);
      expect(modules.some((url) => url.includes('/commander/'))).toBe(true);
      expect(
        modules.filter((url) =>
          /node_modules\/(ssh2|ora|zod|smol-toml|chalk|execa)\/|\/dist\/(config|hosts|agent|controller)\//.test(url),
        ),
      ).toEqual([]);
    },
  );
});
