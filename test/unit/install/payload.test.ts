// The payload is this repository's runtime: its dependencies' closure, none of the dev tools.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectPayload, runtimePackages } from '../../../src/install/payload.js';

const root = join(import.meta.dirname, '..', '..', '..');

describe('install payload', () => {
  it('holds the runtime closure and no dev dependency', async () => {
    const packages = (await runtimePackages(root)).map((dir) => dir.slice(root.length + 1));
    expect(packages).toEqual(
      expect.arrayContaining(['node_modules/ssh2', 'node_modules/zod', 'node_modules/commander', 'node_modules/asn1']),
    );
    expect(packages.filter((dir) => /vitest|typescript|@types/.test(dir))).toEqual([]);
  });

  it('lists bin/vmig and dist, no source maps, with a stable build id', { timeout: 30_000 }, async () => {
    const a = await collectPayload(root);
    const b = await collectPayload(root);
    expect(a.files).toContain('bin/vmig');
    expect(a.files).toContain('package.json');
    expect(a.files.some((file) => file.startsWith('dist/cli/'))).toBe(true);
    expect(a.files.filter((file) => file.endsWith('.map') || file.endsWith('.d.ts'))).toEqual([]);
    expect(a.buildId).toMatch(/^[0-9a-f]{16}$/);
    expect(b.buildId).toBe(a.buildId);
  });
});
