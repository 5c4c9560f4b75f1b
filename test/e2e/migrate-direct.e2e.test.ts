// The core promise, end to end: a running self-checking guest moves between two namespace hosts over SSH,
// arrives intact and runs on the destination only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import {
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  guestStatus,
  listDomains,
  qemuPids,
  startGuest,
} from './support.js';

describe('migrate --direct between two SSH hosts', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('moves a running guest h1 → h2 (hosts named through ~/.ssh/config) with its memory and progress intact', async () => {
    const before = await startGuest(lab, 'h1', 'g1');
    expect(before.errors).toBe(0);

    const result = expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct']));
    expect(result.stdout).toMatch(/^Migrated g1 to h2 over direct \(unencrypted\)/m);
    // The operator is told the stream was not encrypted, and every phase is named on stderr.
    expect(result.stderr).toMatch(/warning: the direct transport sends guest memory unencrypted/);
    for (const phase of ['begin', 'prepare', 'perform', 'finish', 'confirm'])
      expect(result.stderr).toMatch(new RegExp(`^${phase}: `, 'm'));

    await expectRunsOnlyOn(lab, 'h2', 'g1');
    await expectGuestContinued(lab, 'h2', 'g1', before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    // Without --undefinesource the source keeps the definition; without --persistent the destination has none.
    expect((await listDomains(lab, 'h1', true)).find((domain) => domain.name === 'g1')?.state).toBe('shut off');
    expect((await listDomains(lab, 'h2', true)).find((domain) => domain.name === 'g1')?.persistent).toBe(false);
  });

  it('moves it back h2 → h1 by ssh:// URI with --persistent --undefinesource', async () => {
    const before = await guestStatus(lab, 'h2', 'g1');
    const result = expectOk(
      await lab.vmig([
        '-c',
        lab.sshUri('h2'),
        'migrate',
        'g1',
        lab.sshUri('h1'),
        '--direct',
        '--persistent',
        '--undefinesource',
      ]),
    );
    expect(result.stdout).toMatch(/^Migrated g1/m);
    await expectRunsOnlyOn(lab, 'h1', 'g1');
    await expectGuestContinued(lab, 'h1', 'g1', before);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
    expect((await listDomains(lab, 'h2', true)).map((domain) => domain.name)).not.toContain('g1');
    expect((await listDomains(lab, 'h1', true)).find((domain) => domain.name === 'g1')?.persistent).toBe(true);
  });

  it('--suspend leaves the guest paused on the destination, and it resumes intact', async () => {
    const before = await guestStatus(lab, 'h1', 'g1');
    expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct', '--suspend']));
    await expectRunsOnlyOn(lab, 'h2', 'g1', 'paused');
    const paused = await guestStatus(lab, 'h2', 'g1');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await guestStatus(lab, 'h2', 'g1')).passes).toBe(paused.passes);
    expectOk(await lab.vmig(['-c', 'h2', 'qemu-monitor-command', 'g1', '{"execute":"cont"}']));
    await expectGuestContinued(lab, 'h2', 'g1', before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
  });
});
