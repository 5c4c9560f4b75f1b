import { describe, expect, it } from 'vitest';
import type { HostView } from '../../../src/protocol/wire.js';
import { planRecovery } from '../../../src/controller/recovery.js';

const view = (host: string, instance?: HostView['instance'], extra: Partial<HostView> = {}): HostView => ({
  host,
  ...(instance ? { instance } : {}),
  ...extra,
});
const qemu = (qemuStatus: string, more: Partial<NonNullable<HostView['instance']>> = {}) => ({
  qemuStatus,
  ownerAlive: false,
  migrationStatus: 'none',
  ...more,
});

describe('planRecovery', () => {
  it('stops disk mirrors left on the source by an interrupted storage migration, and retires the incomplete destination', () => {
    const plan = planRecovery(
      view('h1', qemu('running', { diskJobs: ['vmig-mirror-vda'] })),
      view('h2', qemu('inmigrate', { incomingMigrationId: 'm', createdImages: ['/srv/vda.img'] })),
      'g',
    );
    expect(plan).toMatchObject({ kind: 'resolved', runsOn: 'source' });
    expect(plan.steps.map((step) => `${step.host}:${step.action}`)).toEqual([
      'destination:retire',
      'source:cancel-disk-jobs',
    ]);
    const paused = planRecovery(view('h1', qemu('paused', { diskJobs: ['vmig-mirror-vdb'] })), view('h2'), 'g');
    expect(paused.steps.map((step) => `${step.host}:${step.action}`)).toEqual(['source:cancel-disk-jobs']);
  });

  it('never chooses between two running copies', () => {
    const plan = planRecovery(view('h1', qemu('running')), view('h2', qemu('running')), 'g');
    expect(plan.kind).toBe('conflict');
    expect(plan.steps).toEqual([]);
  });

  it('refuses while a migration is still in progress', () => {
    expect(
      planRecovery(
        view('h1', qemu('running'), { lock: { migrationId: 'm', controller: 'c', startedAt: 't', alive: true } }),
        view('h2'),
        'g',
      ).kind,
    ).toBe('busy');
    expect(
      planRecovery(
        view('h1', qemu('postmigrate')),
        view('h2', qemu('inmigrate', { incomingMigrationId: 'm', ownerAlive: true })),
        'g',
      ).kind,
    ).toBe('busy');
  });

  it('retires the source when the destination already runs the guest, and adopts a half-finished Finish', () => {
    const plan = planRecovery(
      view('h1', qemu('postmigrate')),
      view('h2', qemu('running', { incomingMigrationId: 'm', migrationStatus: 'completed' })),
      'g',
    );
    expect(plan).toMatchObject({ kind: 'resolved', runsOn: 'destination' });
    expect(plan.steps.map((step) => `${step.host}:${step.action}`)).toEqual(['source:retire', 'destination:resume']);
  });

  it('finishes on the destination when it holds the completed stream, retiring the source first', () => {
    const plan = planRecovery(
      view('h1', qemu('postmigrate')),
      view('h2', qemu('paused', { incomingMigrationId: 'm', migrationStatus: 'completed' })),
      'g',
    );
    expect(plan.steps.map((step) => `${step.host}:${step.action}`)).toEqual(['source:retire', 'destination:resume']);
  });

  it('falls back to the source when the destination is incomplete', () => {
    const plan = planRecovery(
      view('h1', qemu('postmigrate')),
      view('h2', qemu('inmigrate', { incomingMigrationId: 'm', migrationStatus: 'active' })),
      'g',
    );
    expect(plan).toMatchObject({ kind: 'resolved', runsOn: 'source' });
    expect(plan.steps.map((step) => `${step.host}:${step.action}`)).toEqual(['destination:retire', 'source:resume']);
  });

  it('does not resume a source that the operator had paused', () => {
    const plan = planRecovery(view('h1', qemu('paused')), view('h2'), 'g');
    expect(plan.kind).toBe('nothing-to-do');
    expect(plan.steps).toEqual([]);
  });

  it('clears stale locks and reports a guest found nowhere', () => {
    const stale = { migrationId: 'm', controller: 'c', startedAt: 't', alive: false };
    const plan = planRecovery(view('h1', qemu('running'), { lock: stale }), view('h2'), 'g');
    expect(plan.steps).toEqual([{ host: 'source', action: 'clear-lock', why: 'stale lock of migration m' }]);
    expect(planRecovery(view('h1'), view('h2'), 'g').kind).toBe('lost');
    expect(
      planRecovery(
        view('h1'),
        view('h2', qemu('inmigrate', { incomingMigrationId: 'm', migrationStatus: 'active' })),
        'g',
      ).kind,
    ).toBe('lost');
  });

  it('resumes a broken post-copy instead of resuming or retiring either side alone', () => {
    const source = view('h1', qemu('finish-migrate', { migrationStatus: 'postcopy-paused' }));
    // The destination already runs the guest (Finish resumed it at the switch-over) and waits for pages.
    const destination = view('h2', qemu('running', { incomingMigrationId: 'm', migrationStatus: 'postcopy-paused' }));
    const plan = planRecovery(source, destination, 'g');
    expect(plan).toMatchObject({ kind: 'resolved', runsOn: 'destination' });
    expect(plan.steps.map((step) => `${step.host}:${step.action}`)).toEqual([
      'destination:resume-postcopy',
      'source:retire',
    ]);
    // Even a source that QEMU reports stopped after migration is never resumed while post-copy is unfinished.
    const pausedDestination = view(
      'h2',
      qemu('paused', { incomingMigrationId: 'm', migrationStatus: 'postcopy-active' }),
    );
    expect(
      planRecovery(
        view('h1', qemu('postmigrate', { migrationStatus: 'postcopy-paused' })),
        pausedDestination,
        'g',
      ).steps.map((step) => step.action),
    ).not.toContain('resume');
  });

  it('says the guest is lost when one half of a post-copy is gone, and touches nothing', () => {
    const withoutSource = planRecovery(
      view('h1'),
      view('h2', qemu('running', { incomingMigrationId: 'm', migrationStatus: 'postcopy-paused' })),
      'g',
    );
    expect(withoutSource).toMatchObject({ kind: 'lost', steps: [] });
    expect(withoutSource.summary).toMatch(/post-copy of g broke and its QEMU on h1 is gone/);
    expect(
      planRecovery(view('h1', qemu('finish-migrate', { migrationStatus: 'postcopy-paused' })), view('h2'), 'g'),
    ).toMatchObject({ kind: 'lost', steps: [] });
  });

  it('never plans to run the guest on both hosts', () => {
    const statuses = ['running', 'paused', 'postmigrate', 'inmigrate'];
    for (const s of [undefined, ...statuses]) {
      for (const d of [undefined, ...statuses]) {
        for (const completed of [false, true]) {
          const source = view('h1', s ? qemu(s) : undefined);
          const destination = view(
            'h2',
            d ? qemu(d, { incomingMigrationId: 'm', migrationStatus: completed ? 'completed' : 'active' }) : undefined,
          );
          const plan = planRecovery(source, destination, 'g');
          if (s === 'running' && d === 'running') {
            expect(plan.kind).toBe('conflict');
            continue;
          }
          const runningAfter = new Set<string>();
          if (s === 'running') runningAfter.add('source');
          if (d === 'running') runningAfter.add('destination');
          for (const step of plan.steps) {
            if (step.action === 'retire') runningAfter.delete(step.host);
            if (step.action === 'resume') runningAfter.add(step.host);
          }
          expect(runningAfter.size, `${s}/${d}/${completed}: ${JSON.stringify(plan)}`).toBeLessThanOrEqual(1);
        }
      }
    }
  });
});
