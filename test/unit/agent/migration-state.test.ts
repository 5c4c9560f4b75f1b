import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal } from '../../../src/agent/journal.js';
import { pastSwitchover, transition, type SourceMigration } from '../../../src/agent/migration-state.js';
import { StateDir } from '../../../src/agent/state.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'vmig-phase-'));
  dirs.push(dir);
  const state = new StateDir(dir);
  await state.ensure();
  const logs: string[] = [];
  const context = { journal: new Journal(state), log: (line: string) => logs.push(line) };
  const migration: SourceMigration = {
    role: 'source',
    migrationId: 'm-0001-abcd',
    name: 'web1',
    peer: 'h2',
    phase: 'begun',
    wasRunning: true,
    cleanups: [],
  };
  return { state, context, migration, logs };
}

describe('transition', () => {
  it('sets the phase, journals it and logs it, in one call', async () => {
    const { state, context, migration, logs } = await setup();
    await transition(context, migration, 'performing');
    expect(migration.phase).toBe('performing');
    const stored = JSON.parse(await readFile(state.journalPath('m-0001-abcd'), 'utf8'));
    expect(stored).toMatchObject({
      migrationId: 'm-0001-abcd',
      role: 'source',
      domain: 'web1',
      peer: 'h2',
      phase: 'performing',
    });
    expect(stored.detail).toBeUndefined();
    expect(logs).toEqual(['migration m-0001-abcd of web1: performing']);
  });

  it('records the detail when there is one', async () => {
    const { context, migration } = await setup();
    await transition(context, migration, 'held', 'controller gone');
    expect(await context.journal.read('m-0001-abcd')).toMatchObject({ phase: 'held', detail: 'controller gone' });
  });

  it('sets the phase before it awaits the journal: a concurrent reader never sees the old one', async () => {
    const { context, migration } = await setup();
    const pending = transition(context, migration, 'cancelled');
    expect(migration.phase).toBe('cancelled');
    await pending;
  });
});

describe('the journal', () => {
  it('reads back a journal file written by a wave-1 agent', async () => {
    const { state } = await setup();
    await mkdir(state.journalDir, { recursive: true });
    await writeFile(
      state.journalPath('m-old-0001'),
      `${JSON.stringify({ migrationId: 'm-old-0001', role: 'destination', domain: 'web2', peer: 'h1', phase: 'prepared', updatedAt: '2026-11-30T10:00:00.000Z' })}\n`,
    );
    expect(await new Journal(state).all()).toEqual([
      {
        migrationId: 'm-old-0001',
        role: 'destination',
        domain: 'web2',
        peer: 'h1',
        phase: 'prepared',
        updatedAt: '2026-11-30T10:00:00.000Z',
      },
    ]);
  });
});

describe('pastSwitchover', () => {
  it('is true once the stream completed or post-copy began', async () => {
    const { migration } = await setup();
    expect(pastSwitchover({ ...migration, phase: 'performing' })).toBe(false);
    expect(pastSwitchover({ ...migration, phase: 'performing', postcopy: true })).toBe(true);
    expect(pastSwitchover({ ...migration, phase: 'completed' })).toBe(true);
  });
});
