// Audit item 15: state is private (files 0600, dirs 0700), a state dir others could write or another user owns
// is refused with the fix in the message, and durable writes never open an existing name (a planted symlink).
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentContext } from '../../../src/agent/context.js';
import { writeDefinition } from '../../../src/agent/domains.js';
import { StateDir } from '../../../src/agent/state.js';
import { parseDomain } from '../../../src/domain/definition.js';
import { writeFileDurable } from '../../../src/util/fs.js';

const mode = (path: string) => statSync(path).mode & 0o777;
const isRoot = process.geteuid?.() === 0;

describe('state directory permissions', () => {
  let base: string;
  let state: StateDir;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'vmig-perm-'));
    state = new StateDir(join(base, 'state'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('a new layout is 0700 throughout', async () => {
    await state.ensure();
    for (const dir of [state.root, state.domainsDir, state.runDir, state.locksDir, state.journalDir])
      expect(mode(dir), dir).toBe(0o700);
  });

  it('subdirectories an older vmig made 0755 are tightened to 0700', async () => {
    for (const dir of [state.domainsDir, state.locksDir]) mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(state.domainsDir, 0o755);
    await state.ensure();
    expect(mode(state.domainsDir)).toBe(0o700);
    expect(mode(state.locksDir)).toBe(0o700);
  });

  it('a state dir writable by group or others is refused, naming the fix', async () => {
    mkdirSync(state.root, { recursive: true });
    chmodSync(state.root, 0o777);
    await expect(state.ensure()).rejects.toThrow(
      new RegExp(
        `state directory ${state.root} is writable by group or others \\(mode 0777\\); run chmod go-w ${state.root}`,
      ),
    );
    chmodSync(state.root, 0o775);
    await expect(state.ensure()).rejects.toThrow(/writable by group or others \(mode 0775\)/);
  });

  it.skipIf(!isRoot)('a state dir of another user is refused, naming the fix', async () => {
    mkdirSync(state.root, { recursive: true, mode: 0o700 });
    chownSync(state.root, 65534, 65534);
    await expect(state.ensure()).rejects.toThrow(
      new RegExp(
        `state directory ${state.root} belongs to uid 65534, not to uid 0 that runs the vmig agent; run chown 0 ${state.root}`,
      ),
    );
  });

  it('definitions and the host id are written 0600', async () => {
    await state.ensure();
    const context = { state } as unknown as AgentContext;
    await writeDefinition(
      context,
      parseDomain({ name: 'g1', memoryMiB: 64, kernel: '/srv/k', extraArgs: ['-object', 'secret,id=s0,data=hunter2'] }),
    );
    expect(mode(state.definitionPath('g1'))).toBe(0o600);
    await state.hostId();
    expect(mode(join(state.root, 'host-id'))).toBe(0o600);
  });

  it('a durable write never opens a name planted in its place (no O_TRUNC through a symlink)', async () => {
    await state.ensure();
    const victim = join(base, 'victim');
    writeFileSync(victim, 'precious\n');
    const path = state.definitionPath('g2');
    // The temp name older versions used, predictable from the pid.
    symlinkSync(victim, `${path}.${process.pid}.tmp`);
    await writeFileDurable(path, 'new content\n');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(path, 'utf8')).toBe('new content\n');
    expect(mode(path)).toBe(0o600);
    expect(lstatSync(`${path}.${process.pid}.tmp`).isSymbolicLink()).toBe(true);
    expect(
      readdirSync(state.domainsDir).filter((file) => file.endsWith('.tmp') && !file.startsWith('g2.json.')),
    ).toEqual([]);
  });
});
