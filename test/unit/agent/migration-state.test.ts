import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal } from '../../../src/agent/journal.js';
import { journalPhase, pastSwitchover, transition, type SourceMigration } from '../../../src/agent/migration-state.js';
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

describe('journalPhase', () => {
  it('journals a phase for a migration this process does not run (vmig recover) and logs it', async () => {
    const { context, logs } = await setup();
    const left = { migrationId: 'm-0002-ef01', role: 'destination' as const, domain: 'db', peer: 'h1' };
    await journalPhase(context, { ...left, phase: 'held', updatedAt: 'x' } as never, 'resumed', 'vmig recover');
    expect(await context.journal.read('m-0002-ef01')).toMatchObject({
      ...left,
      phase: 'resumed',
      detail: 'vmig recover',
    });
    expect(logs).toEqual(['migration m-0002-ef01 of db: resumed (vmig recover)']);
  });

  it('is the one writer of phases: no other agent module calls journal.record()', async () => {
    const dir = join(import.meta.dirname, '../../../src/agent');
    const offenders: string[] = [];
    for (const file of await readdir(dir)) {
      if (!file.endsWith('.ts') || file === 'migration-state.ts' || file === 'journal.ts') continue;
      if (/\.journal\.record\(/.test(await readFile(join(dir, file), 'utf8'))) offenders.push(file);
    }
    expect(offenders).toEqual([]);
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
