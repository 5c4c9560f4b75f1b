import { describe, expect, it } from 'vitest';
import { migrationOptionsFor } from '../../../src/cli/commands/evacuate.js';
import { parseConfig } from '../../../src/config/load.js';

const globals = (settings?: ReturnType<typeof parseConfig>) => ({
  connect: 'hv1',
  json: false,
  quiet: false,
  verbose: false,
  color: false,
  debug: false,
  acceptNewHostKey: false,
  ...(settings ? { settings } : {}),
});

describe('evacuate: per-guest migration options', () => {
  it('passes the convergence flags on to every guest migration, so that a cron evacuation ends', () => {
    const options = migrationOptionsFor(
      globals(),
      { timeout: '300', timeoutAction: 'postcopy', autoConverge: true, maxDowntime: '2000', downtimeSteps: '4' },
      ['hv2'],
    )('hv2');
    expect(options.convergence).toEqual({
      autoConverge: true,
      downtimeSteps: 4,
      timeoutMs: 300_000,
      timeoutAction: 'postcopy',
    });
    expect(options.maxDowntimeMs).toBe(2000);
  });

  it('takes the options evacuate used to lack, exactly as migrate does', () => {
    const flags = {
      direct: true,
      postcopy: true,
      parallel: '2',
      compressed: true,
      autoConverge: true,
      autoConvergeInitial: '40',
      autoConvergeIncrement: '5',
      listenAddress: '10.0.9.2',
    };
    const options = migrationOptionsFor(globals(), flags, ['hv2'])('hv2');
    expect(options.convergence).toEqual({
      postcopy: true,
      parallel: 2,
      compressed: true,
      autoConverge: true,
      autoConvergeInitialPct: 40,
      autoConvergeIncrementPct: 5,
    });
    expect(options.listenAddress).toBe('10.0.9.2');
    expect(migrationOptionsFor(globals(), { migrateUri: 'tcp:10.0.9.2:49200' }, ['hv2'])('hv2')).toMatchObject({
      listenAddress: '10.0.9.2',
      portRange: [49200, 49200],
    });
  });

  it('refuses an address flag for several destinations: it names one host', () => {
    expect(() => migrationOptionsFor(globals(), { listenAddress: '10.0.9.2' }, ['hv2', 'hv3'])).toThrow(
      /--listen-address names one destination's address/,
    );
    expect(() => migrationOptionsFor(globals(), { migrateUri: 'tcp:10.0.9.2' }, ['hv2', 'hv3'])).toThrow(
      /--migrate-uri/,
    );
  });

  it("takes the destination's config entry when no flag is given, and sets nothing without either", () => {
    const settings = parseConfig('[hosts.hv2]\ntimeout_s = 120\ntimeout_action = "suspend"\n', 'c.toml');
    expect(migrationOptionsFor(globals(settings), {}, ['hv2', 'hv3'])('hv2').convergence).toEqual({
      timeoutMs: 120_000,
      timeoutAction: 'suspend',
    });
    expect(migrationOptionsFor(globals(settings), {}, ['hv2', 'hv3'])('hv3').convergence).toEqual({});
  });
});
