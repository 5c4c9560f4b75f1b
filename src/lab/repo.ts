/**
 * Locating the repository (for bin/vmig) from wherever this module runs:
 * src/lab under vitest, dist/lab for the built demo and benchmark.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from this file to the directory whose package.json is named "vmig". */
export function findRepoRoot(start = dirname(fileURLToPath(import.meta.url))): string {
  for (let d = start; ; d = dirname(d)) {
    const pj = join(d, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'vmig') return d;
    if (dirname(d) === d) throw new Error(`no package.json named "vmig" above ${start}`);
  }
}
