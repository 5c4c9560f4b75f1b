// p2p ssh in the lab: the source host opens SSH to the destination itself (OpenSSH `ssh`, BatchMode, strict host
// keys) with its own config; without that trust the migration fails in one line and the guest stays untouched;
// with it the guest (three streams: --parallel 2) arrives intact and the controller carries no byte.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import type { GuestStatus } from '../../src/lab/guest-status.js';
import type { SshTrust } from '../../src/lab/trust.js';
import {
  cutPostcopyAfterSwitchover,
  expectCleanFailure,
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  qemuPids,
  startGuest,
} from './support.js';

describe('p2p ssh', () => {
  let lab: Lab;
  let trust: SshTrust;
  /** q1 stays on h1 after the first test; the evacuation moves it. */
  let q1Before: GuestStatus;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
    // h1's own identity, authorized on h2, p2p_ssh_config in h1's host.toml; its known_hosts decides whether h1
    // trusts h2's host key.
    trust = await lab.trustSsh('h1', 'h2');
  }, 180_000);
  afterAll(async () => {
    await lab?.destroy();
  });
  /** The agent log of a host from `offset` on (what this test added). */
  const logOf = async (host: string, offset = 0) =>
    (await readFile(join(lab.hosts[host]!.stateDir, 'agent.log'), 'utf8')).slice(offset);

  it('without host-to-host trust: one line naming what is missing, exit 1, the guest untouched on the source', async () => {
    // h1 has never seen h2's host key: strict checking refuses, BatchMode never asks.
    await writeFile(trust.knownHosts, '');
    const before = await startGuest(lab, 'h1', 'q1');
    const result = await lab.vmig(['-c', 'h1', 'migrate', 'q1', 'h2', '--p2p']);
    q1Before = before;
    expectCleanFailure(
      result,
      1,
      /p2p: \S+ could not open SSH to h2 itself \(Host key verification failed\.\); p2p needs the source host to trust the destination .*q1 is still running on h1/,
    );
    await expectRunsOnlyOn(lab, 'h1', 'q1');
    q1Before = await expectGuestContinued(lab, 'h1', 'q1', before);
    expect(await qemuPids(lab, 'h2')).toEqual([]);
  });

  it('with trust: the source host carries all three streams (--parallel 2) itself, the guest intact on h2 only', async () => {
    await lab.trustSsh('h1', 'h2'); // h2's host key back in h1's known_hosts
    const before = await startGuest(lab, 'h1', 'q2');
    const run = await lab.vmig(['-c', 'h1', 'migrate', 'q2', 'h2', '--p2p', '--parallel', '2']);
    // On failure, both agents' last log lines say which side dropped a stream.
    if (run.exitCode !== 0)
      expect.fail(
        `${run.stderr}\n--- h1\n${(await logOf('h1')).slice(-3000)}\n--- h2\n${(await logOf('h2')).slice(-3000)}`,
      );
    const result = expectOk(run);
    expect(result.stdout).toMatch(/^Migrated q2 to h2 over ssh:/m);
    expect(result.stderr).toMatch(/p2p: \S+ opens SSH to h2 itself; the controller stays out of the data path/);
    await expectRunsOnlyOn(lab, 'h2', 'q2');
    await expectGuestContinued(lab, 'h2', 'q2', before);
    const sourceLog = await readFile(join(lab.hosts.h1!.stateDir, 'agent.log'), 'utf8');
    expect(sourceLog).toMatch(/p2p ssh of migration \S+: \S+ connected to h2/);
    const destinationLog = await readFile(join(lab.hosts.h2!.stateDir, 'agent.log'), 'utf8');
    for (const stream of ['ram', 'multifd-0', 'multifd-1'])
      expect(destinationLog).toMatch(new RegExp(`ssh stream ${stream} of migration \\S+: authenticated`));
  });

  it('refuses --p2p with another transport up front (exit 2)', async () => {
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'migrate', 'q1', 'h2', '--p2p', '--transport', 'tls']),
      2,
      /--p2p is the ssh transport run from the source host: it contradicts --transport tls/,
    );
  });

  it("evacuate --p2p: every guest goes over the source host's own ssh, intact on h2; the controller carries no byte", async () => {
    const q3Before = await startGuest(lab, 'h1', 'q3');
    const [sourceAt, destinationAt] = [(await logOf('h1')).length, (await logOf('h2')).length];
    const result = expectOk(await lab.vmig(['evacuate', 'h1', '--to', 'h2', '--p2p'], { timeoutMs: 300_000 }));
    expect(result.stdout + result.stderr).not.toMatch(/unencrypted/);
    await expectRunsOnlyOn(lab, 'h2', 'q1');
    await expectRunsOnlyOn(lab, 'h2', 'q3');
    await expectGuestContinued(lab, 'h2', 'q1', q1Before);
    await expectGuestContinued(lab, 'h2', 'q3', q3Before);
    expect(await qemuPids(lab, 'h1')).toEqual([]);
    // Each guest's migration: h1's own ssh connected to h2, and h2 took its stream from that ssh, not a relay.
    const connected = [
      ...(await logOf('h1', sourceAt)).matchAll(/p2p ssh of migration (\S+): \S+ connected to h2/g),
    ].map((match) => match[1]!);
    expect(new Set(connected).size).toBe(2);
    const destinationLog = await logOf('h2', destinationAt);
    for (const id of connected)
      expect(destinationLog).toMatch(new RegExp(`ssh stream ram of migration ${id}: authenticated`));
  });

  it("recover --p2p: a post-copy cut off after the switch-over resumes over the source host's own ssh, intact", async () => {
    let before = await startGuest(lab, 'h1', 'pc1', { append: 'busy', memoryMiB: 128 });
    const failed = await cutPostcopyAfterSwitchover(lab, 'pc1');
    expect(failed.exitCode, failed.stderr).toBe(4);
    expect(await qemuPids(lab, 'h1')).toHaveLength(1);
    const sourceAt = (await logOf('h1')).length;
    expectCleanFailure(
      await lab.vmig(['-c', 'h1', 'recover', 'pc1', '--destination', 'h2', '--p2p', '--transport', 'tls']),
      2,
      /--p2p is the ssh transport run from the source host: it contradicts --transport tls/,
    );
    const recovered = expectOk(
      await lab.vmig(['-c', 'h1', 'recover', 'pc1', '--destination', 'h2', '--p2p'], { timeoutMs: 180_000 }),
    );
    expect(recovered.stderr).toMatch(/resume the post-copy stream over ssh \(p2p: \S+ opens SSH to h2 itself\)/);
    expect(recovered.stdout).toMatch(/Recovered: the post-copy of pc1 resumed and completed; it runs on h2/);
    expect(await logOf('h1', sourceAt)).toMatch(/p2p ssh of migration \S+: \S+ connected to h2/);
    await expectRunsOnlyOn(lab, 'h2', 'pc1');
    before = await expectGuestContinued(lab, 'h2', 'pc1', before);
  });
});
