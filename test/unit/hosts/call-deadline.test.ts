import { describe, expect, it } from 'vitest';
import { callDeadlineMs } from '../../../src/hosts/connection.js';
import { methods, type Method } from '../../../src/protocol/methods.js';

const all = Object.keys(methods) as Method[];

describe('callDeadlineMs', () => {
  it('bounds every short call, and not the calls that last as long as the migration', () => {
    expect(callDeadlineMs('hello', { VMIG_RPC_TIMEOUT_MS: '1500' })).toBe(60_000);
    for (const method of [
      'domain.list',
      'domain.info',
      'job.info',
      'job.abort',
      'migrate.begin',
      'migrate.prepare',
      'migrate.confirm',
    ] as const) {
      expect(callDeadlineMs(method, {})).toBe(120_000);
    }
    for (const method of ['migrate.perform', 'migrate.finish', 'recover.apply'] as const)
      expect(callDeadlineMs(method, {})).toBeUndefined();
  });

  it('is overridden by VMIG_RPC_TIMEOUT_MS', () => {
    expect(callDeadlineMs('domain.list', { VMIG_RPC_TIMEOUT_MS: '1500' })).toBe(1_500);
    expect(callDeadlineMs('migrate.perform', { VMIG_RPC_TIMEOUT_MS: '1500' })).toBeUndefined();
  });

  it('reads each method’s deadline column of the method table', () => {
    const env = { VMIG_RPC_TIMEOUT_MS: '1500' };
    const expected = { rpc: 1_500, none: undefined, startup: 60_000 } as const;
    for (const method of all) expect(callDeadlineMs(method, env), method).toBe(expected[methods[method].deadline]);
  });
});

describe('the deadline column', () => {
  it('is set on every method, to one of the known kinds', () => {
    for (const method of all) expect(['rpc', 'none', 'startup'], method).toContain(methods[method].deadline);
  });

  it('leaves unbounded exactly the calls that run as long as a migration, and gives only hello the start-up wait', () => {
    const of = (kind: string) => all.filter((method) => methods[method].deadline === kind).sort();
    expect(of('none')).toEqual(['migrate.finish', 'migrate.perform', 'recover.apply']);
    expect(of('startup')).toEqual(['hello']);
  });
});
