// What `vmig host install` copies: this vmig's package.json, bin/, dist/, completions/, man/ and the
// node_modules its runtime needs (the `dependencies` closure, resolved as Node resolves them; no dev
// dependencies, no source maps or type declarations). Read from the installation that runs the controller,
// so a host gets exactly the build that talks to it; no network and no npm on either side.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

export interface Payload {
  root: string;
  /** Paths relative to root, sorted, '/'-separated. */
  files: string[];
  bytes: number;
  /** sha256 over every path and its content (first 16 hex digits): two copies of one build have the same id. */
  buildId: string;
}

const SKIPPED_FILE = /(\.map|\.d\.[cm]?ts|\.tsbuildinfo)$/;
const TOP_LEVEL = ['bin', 'dist', 'completions', 'man'];

async function walk(dir: string, into: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      // A package's nested node_modules are walked as packages of their own, only when the closure needs them.
      if (entry.name !== 'node_modules') await walk(path, into);
    } else if ((entry.isFile() || entry.isSymbolicLink()) && !SKIPPED_FILE.test(entry.name)) {
      into.push(path);
    }
  }
}

async function readManifest(
  dir: string,
): Promise<{ dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> } | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Node's lookup: <from>/node_modules/<name>, then each parent's, up to the package root. */
async function resolvePackage(name: string, from: string, root: string): Promise<string | undefined> {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (await readManifest(candidate)) return candidate;
    if (dir === root || !dir.startsWith(root)) return undefined;
  }
}

/** The package directories the runtime needs, starting from root's `dependencies` (optional ones only if installed). */
export async function runtimePackages(root: string): Promise<string[]> {
  const found = new Set<string>();
  const queue: string[] = [root];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    const manifest = await readManifest(dir);
    const wanted = { ...manifest?.optionalDependencies, ...manifest?.dependencies };
    for (const name of Object.keys(wanted)) {
      const resolved = await resolvePackage(name, dir, root);
      if (resolved === undefined) {
        if (manifest?.optionalDependencies?.[name] !== undefined) continue;
        throw new Error(
          `${name}, a dependency of ${dir === root ? 'vmig' : relative(root, dir)}, is not installed (run npm ci)`,
        );
      }
      if (found.has(resolved)) continue;
      found.add(resolved);
      queue.push(resolved);
    }
  }
  return [...found].sort();
}

export async function collectPayload(root: string): Promise<Payload> {
  const absolute: string[] = [join(root, 'package.json')];
  for (const top of TOP_LEVEL) await walk(join(root, top), absolute);
  for (const dir of await runtimePackages(root)) await walk(dir, absolute);
  const files = [...new Set(absolute.map((path) => relative(root, path).split(sep).join('/')))].sort();
  const hash = createHash('sha256');
  let bytes = 0;
  for (const file of files) {
    const content = await readFile(join(root, file));
    bytes += content.length;
    hash.update(`${file}\0${content.length}\0`);
    hash.update(content);
  }
  // bin/vmig must stay executable after the copy; tar keeps modes, but only if the source has them.
  if (((await stat(join(root, 'bin', 'vmig'))).mode & 0o111) === 0)
    throw new Error(`${join(root, 'bin', 'vmig')} is not executable`);
  return { root, files, bytes, buildId: hash.digest('hex').slice(0, 16) };
}
