import { describe, expect, it } from 'vitest';
import { callDeadlineMs } from '../../../src/hosts/connection.js';

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
    ]) {
      expect(callDeadlineMs(method, {})).toBe(120_000);
    }
    for (const method of ['migrate.perform', 'migrate.finish', 'recover.apply'])
      expect(callDeadlineMs(method, {})).toBeUndefined();
  });

  it('is overridden by VMIG_RPC_TIMEOUT_MS', () => {
    expect(callDeadlineMs('domain.list', { VMIG_RPC_TIMEOUT_MS: '1500' })).toBe(1_500);
    expect(callDeadlineMs('migrate.perform', { VMIG_RPC_TIMEOUT_MS: '1500' })).toBeUndefined();
  });
});
