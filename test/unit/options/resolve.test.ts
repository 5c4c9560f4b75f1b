import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { configuredValues, resolveMigrationOptions } from '../../../src/options/resolve.js';

const resolve = (flags: Record<string, unknown>, config?: string, host = 'hv2') =>
  resolveMigrationOptions(flags, config === undefined ? undefined : parseConfig(config, 'c.toml'), host);

describe('resolveMigrationOptions: flags > the destination host entry > the top level > defaults', () => {
  it('gives the defaults without flags or config: auto transport, no cap, a 30 s stall timeout', () => {
    expect(resolve({})).toEqual({
      transport: 'auto',
      transportReason: 'encrypted by default',
      persistent: false,
      undefineSource: false,
      forceDefinition: false,
      p2p: false,
      suspend: false,
      bandwidthMiBs: 0,
      stallTimeoutMs: 30_000,
      convergence: {},
    });
  });

  it('parses every flag into its request field', () => {
    const flags = {
      direct: true,
      persistent: true,
      undefinesource: true,
      forceDefinition: true,
      suspend: true,
      bandwidth: '100',
      maxDowntime: '2000',
      stallTimeout: '5',
      autoConverge: true,
      autoConvergeInitial: '30',
      autoConvergeIncrement: '15',
      downtimeSteps: '4',
      postcopy: true,
      postcopyAfterPrecopy: true,
      parallel: '4',
      compressed: true,
      timeout: '60',
      timeoutAction: 'suspend',
      listenAddress: '10.0.9.2',
      portRange: '50000-50010',
    };
    expect(resolve(flags)).toEqual({
      transport: 'direct',
      transportReason: '--direct was given',
      persistent: true,
      undefineSource: true,
      forceDefinition: true,
      p2p: false,
      suspend: true,
      bandwidthMiBs: 100,
      maxDowntimeMs: 2000,
      stallTimeoutMs: 5000,
      convergence: {
        autoConverge: true,
        autoConvergeInitialPct: 30,
        autoConvergeIncrementPct: 15,
        downtimeSteps: 4,
        postcopy: true,
        postcopyAfterPrecopy: true,
        parallel: 4,
        compressed: true,
        timeoutMs: 60_000,
        timeoutAction: 'suspend',
      },
      listenAddress: '10.0.9.2',
      portRange: [50000, 50010],
    });
  });

  it("takes the destination's config entry before the top level, and flags before both", () => {
    const config =
      'migration_ports = [50000, 50010]\nbandwidth_mibs = 10\ntransport = "ssh"\n[hosts.hv2]\nbandwidth_mibs = 50\nmigration_address = "10.0.9.2"\n';
    expect(configuredValues(parseConfig(config, 'c.toml'), 'hv2')).toEqual({
      portRange: [50000, 50010],
      bandwidth: 50,
      transport: 'ssh',
      listenAddress: '10.0.9.2',
    });
    expect(resolve({}, config)).toMatchObject({
      bandwidthMiBs: 50,
      portRange: [50000, 50010],
      listenAddress: '10.0.9.2',
      transport: 'ssh',
    });
    expect(resolve({}, config, 'hv3')).toMatchObject({ bandwidthMiBs: 10, transport: 'ssh' });
    expect(resolve({}, config, 'hv3')).not.toHaveProperty('listenAddress');
    expect(resolve({ bandwidth: '0', portRange: '1-2', tunnelled: true }, config)).toMatchObject({
      bandwidthMiBs: 0,
      portRange: [1, 2],
      transport: 'auto',
    });
  });

  it('carries the convergence keys from the config; its timeout action applies to a timeout from either place', () => {
    const busy =
      'max_downtime_ms = 2000\ndowntime_steps = 4\ntimeout_s = 600\ntimeout_action = "postcopy"\n[hosts.hv2]\nauto_converge = true\ntimeout_action = "suspend"\n';
    expect(resolve({}, busy).convergence).toEqual({
      autoConverge: true,
      downtimeSteps: 4,
      timeoutMs: 600_000,
      timeoutAction: 'suspend',
    });
    expect(resolve({ timeout: '30' }, busy, 'hv3').convergence).toEqual({
      downtimeSteps: 4,
      timeoutMs: 30_000,
      timeoutAction: 'postcopy',
    });
    // Without any timeout the config's action is ignored, and a timeout alone aborts.
    expect(resolve({}, 'timeout_action = "suspend"\n').convergence).toEqual({});
    expect(resolve({ timeout: '10' }).convergence).toEqual({ timeoutMs: 10_000, timeoutAction: 'abort' });
  });

  it('refuses bad values naming the flag and its range', () => {
    expect(() => resolve({ bandwidth: 'fast' })).toThrow(/--bandwidth takes a non-negative whole number, not "fast"/);
    expect(() => resolve({ maxDowntime: '0' })).toThrow(/--max-downtime takes a positive whole number/);
    expect(() => resolve({ downtimeSteps: '1', maxDowntime: '1000' })).toThrow(
      /--downtime-steps takes 2 to 20 steps, not "1"/,
    );
    expect(() => resolve({ downtimeSteps: 'x', maxDowntime: '1000' })).toThrow(/--downtime-steps/);
    expect(() => resolve({ parallel: '65', direct: true })).toThrow(/--parallel takes 1 to 64 connections/);
    expect(() => resolve({ autoConverge: true, autoConvergeInitial: '100' })).toThrow(
      /--auto-converge-initial takes 1 to 99 percent/,
    );
    expect(() => resolve({ portRange: '9-1' })).toThrow(/--port-range takes FROM-TO within 1-65535/);
    expect(() => resolve({ timeoutAction: 'later', timeout: '1' })).toThrow(
      /--timeout-action takes abort, suspend, postcopy/,
    );
    expect(() => resolve({ migrateUri: 'udp:x' })).toThrow(/--migrate-uri takes tcp:HOST\[:PORT\]/);
  });

  it('refuses options that need another one, or contradict one', () => {
    expect(() => resolve({ downtimeSteps: '4' })).toThrow(/--downtime-steps needs --max-downtime/);
    expect(() => resolve({}, 'downtime_steps = 4\n')).toThrow(/--downtime-steps needs --max-downtime/);
    expect(() => resolve({ timeoutAction: 'suspend' })).toThrow(/--timeout-action needs --timeout/);
    expect(() => resolve({ autoConvergeInitial: '30' })).toThrow(/need --auto-converge/);
    expect(resolve({ autoConvergeInitial: '30' }, 'auto_converge = true\n').convergence).toEqual({
      autoConverge: true,
      autoConvergeInitialPct: 30,
    });
    expect(() => resolve({ direct: true, tunnelled: true })).toThrow(/contradict/);
    expect(() => resolve({ migrateUri: 'tcp:10.0.0.2', listenAddress: '10.0.0.3' })).toThrow(/both name the address/);
    expect(() => resolve({ migrateUri: 'tcp:10.0.0.2:49200', portRange: '1-2' })).toThrow(/both name the port/);
  });

  it('takes the address and a pinned port from --migrate-uri, over the config', () => {
    const config = '[hosts.hv2]\nmigration_address = "10.0.9.2"\nmigration_ports = [50000, 50010]\n';
    expect(resolve({ migrateUri: 'tcp:[fd00::2]:49200' }, config)).toMatchObject({
      listenAddress: 'fd00::2',
      portRange: [49200, 49200],
    });
    expect(resolve({ migrateUri: 'tcp:10.0.0.7' }, config)).toMatchObject({
      listenAddress: '10.0.0.7',
      portRange: [50000, 50010],
    });
  });

  it('--p2p picks the ssh transport, takes the config key, and contradicts --direct or --transport tls', () => {
    expect(resolve({ p2p: true })).toMatchObject({ transport: 'ssh', p2p: true });
    expect(resolve({}, 'p2p = true\n')).toMatchObject({ transport: 'auto', p2p: true });
    expect(() => resolve({ p2p: true, direct: true })).toThrow(/--p2p .* contradicts --direct/);
    expect(() => resolve({ p2p: true, transport: 'tls' })).toThrow(/--p2p .* contradicts --transport tls/);
  });
});
