// Audit item 10: a migration id arrives over the wire and becomes a file name (journal/ID.json). Every handler
// refuses one that is not a plain id, and the path builders refuse it again: "../../x" never leaves the state dir.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentContext } from '../../../src/agent/context.js';
import { agentHandlers } from '../../../src/agent/handlers.js';
import { hostCheckHandlers } from '../../../src/agent/host-checks.js';
import { Journal } from '../../../src/agent/journal.js';
import { Locks } from '../../../src/agent/locks.js';
import { MigrationRegistry } from '../../../src/agent/migration-state.js';
import { StateDir } from '../../../src/agent/state.js';
import { migrationIdSchema } from '../../../src/protocol/ids.js';
import { dispatchTable } from '../../../src/protocol/table.js';

const signal = { signal: new AbortController().signal };

const EVIL = [
  '../../x',
  '../journal2/y-abcdefgh',
  'abc/../../../etc/passwd',
  '/tmp/absolute-id',
  'ok-looking\nid-1234',
  '',
];

describe('migration ids', () => {
  let base: string;
  let state: StateDir;
  let context: AgentContext;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'vmig-ids-'));
    state = new StateDir(join(base, 'state'));
    mkdirSync(state.journalDir, { recursive: true });
    mkdirSync(state.locksDir, { recursive: true });
    // A running guest g1, as far as Begin can tell.
    const instance = { definition: { name: 'g1' }, accel: 'tcg', pid: 1, startedAt: '', paths: {} };
    context = {
      state,
      instances: { find: async () => instance, status: async () => ({ state: 'running', qemuStatus: 'running' }) },
      locks: new Locks(state, () => 'h1'),
      journal: new Journal(state),
      host: 'h1',
      hostId: 'x',
      arrivalAddress: undefined,
      emit: () => undefined,
      log: () => undefined,
    } as unknown as AgentContext;
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('the shared schema takes what the controller mints and nothing path-like', () => {
    expect(migrationIdSchema.safeParse('6f1c3f0e-5d0a-4f5e-9a43-2b7a3c1f9e10').success).toBe(true);
    for (const id of EVIL) expect(migrationIdSchema.safeParse(id).success, id).toBe(false);
  });

  it('the journal path builder refuses an id that could leave the journal dir', async () => {
    for (const id of EVIL) expect(() => state.journalPath(id), id).toThrow(/not a valid migration id/);
    await expect(
      new Journal(state).record({ migrationId: '../../x', role: 'source', domain: 'g1', peer: 'h2', phase: 'begun' }),
    ).rejects.toThrow(/not a valid migration id/);
    expect(existsSync(join(base, 'x.json'))).toBe(false);
    expect(() => state.lockPath('../x')).toThrow(/not a valid domain name/);
    expect(() => state.definitionPath('a/b')).toThrow(/not a valid domain name/);
  });

  it('migrate.begin with "../../x" is refused before anything is written', async () => {
    // As the agent serves it: params are parsed by the method table before the handler runs.
    const handlers = dispatchTable(
      agentHandlers(context, new MigrationRegistry(), hostCheckHandlers(context).handlers),
    );
    await expect(
      handlers['migrate.begin']!({ name: 'g1', migrationId: '../../x', controller: 'c', peer: 'h2' }, signal),
    ).rejects.toThrow(/migrationId/);
    expect(existsSync(join(base, 'x.json'))).toBe(false);
    expect(readdirSync(state.journalDir)).toEqual([]);
    expect(readdirSync(state.locksDir)).toEqual([]);
  });

  it('every handler that takes a migration or job id refuses a path-like one', async () => {
    const handlers = dispatchTable(
      agentHandlers(context, new MigrationRegistry(), hostCheckHandlers(context).handlers),
    );
    const calls: Array<[string, () => Promise<unknown>]> = [];
    for (const method of [
      'migrate.perform',
      'migrate.tunnel',
      'migrate.probe',
      'migrate.cancel',
      'migrate.resume',
      'migrate.confirm',
      'migrate.release',
    ]) {
      calls.push([method, () => handlers[method]!({ migrationId: '../../x' }, signal)]);
    }
    for (const method of [
      'migrate.prepare',
      'migrate.finish',
      'migrate.postcopy-pause',
      'migrate.select-transport',
      'migrate.abort',
    ]) {
      calls.push([method, () => handlers[method]!({ migrationId: '../../x' }, signal)]);
    }
    for (const method of ['evacuation.lock', 'evacuation.unlock', 'evacuation.status']) {
      calls.push([method, () => handlers[method]!({ jobId: '../../x', controller: 'c' }, signal)]);
    }
    for (const [method, call] of calls) {
      const error = await call().then(
        () => undefined,
        (caught: Error) => caught,
      );
      expect(error?.message, method).toMatch(/"(migrationId|jobId)"/);
      expect(error?.message, method).toMatch(/must be 8-64 letters, digits and/);
    }
  });
});
