// Compiles a few source modules (and the relative modules they import) to plain JavaScript in a temp dir, so
// that a test can run them in separate node processes: real concurrency, not promises in one event loop.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

/**
 * Returns the temp dir; `src/x/y.ts` becomes `<dir>/x/y.js`. The dir lies under the repository's node_modules,
 * so that the modules' own dependencies (zod) resolve as they do for the real code.
 */
export function transpileForChildren(entries: string[]): string {
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, 'vmig-transpiled-'));
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  const pending = entries.map((entry) => resolve(SRC, entry));
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(file, 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: file,
    });
    const target = join(out, relative(SRC, file).replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
    for (const match of outputText.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)\.js'/gm)) {
      pending.push(resolve(dirname(file), `${match[1]}.ts`));
    }
  }
  return out;
}
