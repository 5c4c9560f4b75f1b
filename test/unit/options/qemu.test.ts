import { describe, expect, it } from 'vitest';
import { qemuSettings } from '../../../src/options/qemu.js';
import { UNLIMITED_BANDWIDTH } from '../../../src/options/table.js';

const MiB = 1024 * 1024;
const on = (settings: ReturnType<typeof qemuSettings>) =>
  settings.capabilities.filter((entry) => entry.state).map((entry) => entry.capability);

describe('qemuSettings: the QEMU capabilities and parameters walked from the options table', () => {
  it('sets every capability explicitly, off too, and lifts the bandwidth cap without options', () => {
    // Off explicitly: a QEMU that once received a post-copy stream would otherwise keep postcopy-ram on.
    const source = qemuSettings('source', {});
    expect(source.capabilities.map((entry) => entry.capability).sort()).toEqual([
      'auto-converge',
      'events',
      'multifd',
      'pause-before-switchover',
      'postcopy-ram',
      'validate-uuid',
      'xbzrle',
    ]);
    expect(on(source)).toEqual(['validate-uuid', 'events']);
    expect(source.parameters).toEqual({ 'max-bandwidth': UNLIMITED_BANDWIDTH, 'max-postcopy-bandwidth': 0 });
    const destination = qemuSettings('destination', {});
    expect(on(destination)).toEqual(['validate-uuid', 'events']);
    expect(destination.parameters).toEqual({});
  });

  it('maps each option to its QEMU name on the source', () => {
    const source = qemuSettings('source', {
      autoConverge: true,
      autoConvergeInitialPct: 30,
      autoConvergeIncrementPct: 15,
      postcopy: true,
      parallel: 4,
      compressed: true,
      bandwidthMiBs: 100,
      downtimeLimitMs: 250,
    });
    expect(on(source).sort()).toEqual([
      'auto-converge',
      'events',
      'multifd',
      'postcopy-ram',
      'validate-uuid',
      'xbzrle',
    ]);
    // Copied disks: QEMU waits before the switch-over so that the mirrors complete while the guest is paused.
    expect(on(qemuSettings('source', { copiesDisks: true }))).toContain('pause-before-switchover');
    expect(source.parameters).toEqual({
      'max-bandwidth': 100 * MiB,
      'max-postcopy-bandwidth': 100 * MiB,
      'downtime-limit': 250,
      'multifd-channels': 4,
      'cpu-throttle-initial': 30,
      'cpu-throttle-increment': 15,
    });
  });

  it('sets on the destination only what QEMU needs on both sides', () => {
    const destination = qemuSettings('destination', {
      autoConverge: true,
      postcopyAfterPrecopy: true,
      parallel: 2,
      compressed: true,
      bandwidthMiBs: 5,
    });
    expect(on(destination).sort()).toEqual(['events', 'multifd', 'postcopy-ram', 'validate-uuid']);
    expect(destination.capabilities.map((entry) => entry.capability)).not.toContain('pause-before-switchover');
    expect(destination.capabilities.map((entry) => entry.capability)).not.toContain('xbzrle');
    expect(destination.parameters).toEqual({ 'multifd-channels': 2 });
  });

  it('enables post-copy for the postcopy timeout action, and throttle steps only with auto-converge', () => {
    expect(on(qemuSettings('destination', { timeoutMs: 10_000, timeoutAction: 'postcopy' }))).toContain('postcopy-ram');
    expect(on(qemuSettings('source', { timeoutMs: 10_000, timeoutAction: 'suspend' }))).not.toContain('postcopy-ram');
    expect(qemuSettings('source', { autoConvergeInitialPct: 30 }).parameters).not.toHaveProperty(
      'cpu-throttle-initial',
    );
    expect(on(qemuSettings('source', { parallel: 1 }))).not.toContain('multifd');
  });
});
