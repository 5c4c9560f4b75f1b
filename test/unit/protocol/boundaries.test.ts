// The controller and the CLI talk to agents only through src/protocol: they never import agent code.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory()
        ? sources(join(dir, entry.name))
        : Promise.resolve(entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []),
    ),
  );
  return nested.flat();
}

/** Every module specifier a file imports: static, re-exported, type-only or dynamic. */
function importsOf(text: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;
  return [...text.matchAll(pattern)].map((match) => match[1]!);
}

/** `vmig agent` is a subcommand of the CLI: its one entry may start the agent, lazily. */
const ALLOWED = new Set(['src/cli/program.ts -> ../agent/main.js']);

describe('import boundaries', () => {
  it('finds static, type-only and dynamic imports', () => {
    expect(
      importsOf(
        `import a from './a.js';\nimport type { B } from "../b.js";\nexport { c } from './c.js';\nconst d = await import('./d.js');\nimport './e.js';`,
      ),
    ).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js']);
  });

  it('src/controller and src/cli import nothing from src/agent', async () => {
    const offenders: string[] = [];
    for (const dir of ['src/controller', 'src/cli']) {
      for (const file of await sources(join(root, dir))) {
        const name = relative(root, file);
        for (const specifier of importsOf(await readFile(file, 'utf8'))) {
          const target = relative(root, join(file, '..', specifier));
          if (target.startsWith('src/agent/') && !ALLOWED.has(`${name} -> ${specifier}`))
            offenders.push(`${name} -> ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
