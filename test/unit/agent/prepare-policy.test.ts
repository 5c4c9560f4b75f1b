// Audit item 2 at the handler: Prepare refuses what the destination's policy does not allow before QEMU is
// even invoked. QEMU here is a fake binary (VMIG_QEMU) that records each invocation and fails.
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AgentContext } from '../../../src/agent/context.js';
import { agentHandlers } from '../../../src/agent/handlers.js';
import { hostCheckHandlers } from '../../../src/agent/host-checks.js';
import { Instances } from '../../../src/agent/instances.js';
import { Journal } from '../../../src/agent/journal.js';
import { Locks } from '../../../src/agent/locks.js';
import { MigrationRegistry } from '../../../src/agent/migration-state.js';
import { StateDir } from '../../../src/agent/state.js';
import { dispatchTable } from '../../../src/protocol/table.js';

describe('Prepare applies the destination policy before anything starts', () => {
  const saved = { qemu: process.env.VMIG_QEMU, config: process.env.VMIG_HOST_CONFIG };
  let dir: string;
  let log: string;
  let kernel: string;
  let context: AgentContext;
  let state: StateDir;
  const uuid = randomUUID();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vmig-prepare-'));
    log = join(dir, 'qemu.log');
    const fake = join(dir, 'fake-qemu');
    writeFileSync(fake, `#!/bin/sh\necho "$@" >> ${log}\necho "fake QEMU refuses to run" >&2\nexit 1\n`);
    chmodSync(fake, 0o755);
    kernel = join(dir, 'guest.bin');
    writeFileSync(kernel, 'not really a kernel');
    chmodSync(kernel, 0o644);
    process.env.VMIG_QEMU = fake;
    process.env.VMIG_HOST_CONFIG = join(dir, 'absent-host.toml');
    state = new StateDir(join(dir, 'state'));
    await state.ensure();
    context = {
      state,
      instances: new Instances(state, () => 'h2'),
      locks: new Locks(state, () => 'h2'),
      journal: new Journal(state),
      host: 'h2',
      hostId: 'x',
      arrivalAddress: '127.0.0.1',
      emit: () => undefined,
      log: () => undefined,
    } as unknown as AgentContext;
  });
  afterAll(() => {
    if (saved.qemu === undefined) delete process.env.VMIG_QEMU;
    else process.env.VMIG_QEMU = saved.qemu;
    if (saved.config === undefined) delete process.env.VMIG_HOST_CONFIG;
    else process.env.VMIG_HOST_CONFIG = saved.config;
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => rmSync(log, { force: true }));

  const prepare = (definition: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    // As the agent serves it: params are parsed by the method table before the handler runs.
    dispatchTable(agentHandlers(context, new MigrationRegistry(), hostCheckHandlers(context).handlers))[
      'migrate.prepare'
    ]!(
      {
        migrationId: randomUUID(),
        definition: { name: 'gx', uuid, memoryMiB: 16, accel: 'tcg', kernel, ...definition },
        accel: 'tcg',
        peer: 'h1',
        transport: 'direct',
        convergence: {},
        ...extra,
      },
      { signal: new AbortController().signal },
    );
  const stored = (definition: Record<string, unknown>) =>
    writeFileSync(
      state.definitionPath('gx'),
      JSON.stringify({ name: 'gx', uuid, memoryMiB: 16, accel: 'tcg', kernel, ...definition }),
    );

  it('-chardev file,path=... from the source: refused, QEMU never invoked, nothing under run/', async () => {
    await expect(prepare({ extraArgs: ['-chardev', `file,id=c0,path=${join(dir, 'victim')}`] })).rejects.toThrow(
      /h2 refuses domain gx from the source: extraArgs "-chardev" is not a -device option/,
    );
    expect(existsSync(log)).toBe(false);
    expect(existsSync(state.instanceDir('gx'))).toBe(false);
  });

  it('a kernel the policy refuses: QEMU never invoked', async () => {
    const secret = join(dir, 'secret.bin');
    writeFileSync(secret, 'secret');
    chmodSync(secret, 0o600);
    await expect(prepare({ kernel: secret })).rejects.toThrow(/kernel .*secret.bin is not world-readable/);
    expect(existsSync(log)).toBe(false);
  });

  it('a differing stored definition: refused; with forceDefinition Prepare goes on (to the fake QEMU)', async () => {
    stored({ memoryMiB: 32 });
    await expect(prepare({})).rejects.toThrow(
      /domain gx is defined differently on h2 \(memoryMiB\); pass --force-definition/,
    );
    expect(existsSync(log)).toBe(false);
    await expect(prepare({}, { forceDefinition: true })).rejects.toThrow(/fake QEMU refuses to run/);
    expect(readFileSync(log, 'utf8')).toMatch(/-uuid /);
  });

  it('a stored definition with another uuid: refused, forceDefinition or not', async () => {
    stored({ uuid: randomUUID() });
    for (const forceDefinition of [false, true])
      await expect(prepare({}, { forceDefinition })).rejects.toThrow(/domain gx is defined on h2 as another guest/);
    expect(existsSync(log)).toBe(false);
  });
});
