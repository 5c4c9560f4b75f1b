// Post-copy, end to end: it runs over the encrypted tunnels, the destination resumes the guest at the
// switch-over (not after the last page), and a stream cut off after the switch-over loses nothing: both
// sides stay paused (exit 4) until `vmig recover` resumes the stream over a new channel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import type { GuestStatus } from '../../src/lab/guest-status.js';
import {
  cutPostcopyAfterSwitchover,
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  qemuPids,
  startGuest,
} from './support.js';

const NAME = 'pc1';

interface JsonEvent {
  type: string;
  phase?: string;
  status?: string;
  transport?: string;
  encrypted?: boolean;
}

describe('post-copy', () => {
  let lab: Lab;
  let before: GuestStatus;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
    // A guest that dirties all its RAM every pass: pre-copy alone would not finish behind these caps.
    before = await startGuest(lab, 'h1', NAME, { append: 'busy', memoryMiB: 128 });
  }, 180_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it.each([
    ['tls', 'h1', 'h2'],
    ['ssh', 'h2', 'h1'],
  ])(
    'over %s: the destination resumes at the switch-over while the pages follow, intact',
    async (transport, from, to) => {
      const result = expectOk(
        await lab.vmig(
          [
            '-c',
            from,
            'migrate',
            NAME,
            to,
            '--transport',
            transport,
            '--bandwidth',
            '24',
            '--postcopy-after-precopy',
            '--json',
          ],
          { timeoutMs: 300_000 },
        ),
      );
      const events = result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as JsonEvent);
      const finishStarted = events.findIndex((event) => event.type === 'phase' && event.phase === 'finish');
      expect(finishStarted, result.stdout).toBeGreaterThan(0);
      // Finish began while the source still reported post-copy progress: the guest ran before the last page arrived.
      expect(
        events
          .slice(finishStarted + 1)
          .some((event) => event.type === 'progress' && event.status === 'postcopy-active'),
        result.stdout,
      ).toBe(true);
      expect(events.at(-1)).toMatchObject({ type: 'result', status: 'completed', transport, encrypted: true });
      await expectRunsOnlyOn(lab, to, NAME);
      before = await expectGuestContinued(lab, to, NAME, before);
    },
  );

  it('a stream cut off after the switch-over: exit 4 with both halves kept; vmig recover resumes it and the guest is intact', async () => {
    // The guest is on h1 again after the two runs above. 3 s of pre-copy, then post-copy at 8 MiB/s: ~12 s of pages to cut.
    const failed = await cutPostcopyAfterSwitchover(lab, NAME);
    expect(failed.exitCode, failed.stderr).toBe(4);
    expect(failed.stderr).toMatch(/post-copy stream of pc1 moved no data for 5 s; both sides are paused in post-copy/);
    expect(failed.stderr).toMatch(
      /neither side was resumed or removed\. Resolve with: vmig recover pc1 -c h1 --destination h2/,
    );
    expect(
      failed.stderr
        .trim()
        .split('\n')
        .filter((line) => /^vmig: /.test(line)),
    ).toHaveLength(1);
    // Neither half was removed: each host still has its QEMU, and neither is listed as a running domain yet on h1.
    expect(await qemuPids(lab, 'h1')).toHaveLength(1);
    expect(await qemuPids(lab, 'h2')).toHaveLength(1);

    const recovered = expectOk(
      await lab.vmig(['-c', 'h1', 'recover', NAME, '--destination', 'h2'], { timeoutMs: 180_000 }),
    );
    expect(recovered.stderr).toMatch(/resume the post-copy stream over ssh/);
    expect(recovered.stdout).toMatch(/Recovered: the post-copy of pc1 resumed and completed; it runs on h2/);
    await expectRunsOnlyOn(lab, 'h2', NAME);
    before = await expectGuestContinued(lab, 'h2', NAME, before);
    expect(expectOk(await lab.vmig(['-c', 'h1', 'recover', NAME, '--destination', 'h2'])).stdout).toMatch(
      /Nothing to recover/,
    );
  });
});
