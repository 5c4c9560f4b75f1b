import { describe, expect, it } from 'vitest';
import { decideInstall, nodeSatisfies } from '../../../src/controller/host-install-plan.js';

const want = { version: '1.2.3', buildId: 'abc', nodeRange: '>=20.19' };
const probe = { base: '/usr/local/lib/vmig', node: 'v20.19.1', build: '', running: '' };

describe('host install decision', () => {
  it('compares Node versions against the engines range', () => {
    expect(nodeSatisfies('v20.19.0', '>=20.19')).toBe(true);
    expect(nodeSatisfies('v22.1.0', '>=20.19')).toBe(true);
    expect(nodeSatisfies('v20.18.9', '>=20.19')).toBe(false);
    expect(nodeSatisfies('v18.19.0', '>=20.19')).toBe(false);
    expect(nodeSatisfies('garbage', '>=20.19')).toBe(false);
  });

  it('copies to a fresh host, replaces another build, leaves the same build alone', () => {
    expect(decideInstall(probe, want)).toEqual({ action: 'copy', replacing: false });
    expect(decideInstall({ ...probe, build: 'old', running: '1.2.3' }, want)).toEqual({
      action: 'copy',
      replacing: true,
    });
    // Same build id but it does not run (or runs as another version): copy again.
    expect(decideInstall({ ...probe, build: 'abc', running: '' }, want)).toEqual({ action: 'copy', replacing: true });
    expect(decideInstall({ ...probe, build: 'abc', running: '1.2.3' }, want)).toEqual({ action: 'unchanged' });
  });

  it('refuses without a suitable Node, naming what to install', () => {
    expect(decideInstall({ ...probe, node: '' }, want)).toMatchObject({
      action: 'refuse',
      reason: expect.stringMatching(/no Node\.js .*install Node\.js 20\.19 or newer/),
    });
    expect(decideInstall({ ...probe, node: 'v18.0.0' }, want)).toMatchObject({
      action: 'refuse',
      reason: expect.stringMatching(/v18\.0\.0 is too old/),
    });
  });
});
