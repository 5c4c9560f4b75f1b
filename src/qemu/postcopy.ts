// Post-copy helpers shared by both sides. After the switch-over the destination runs the guest while pages it
// has not received yet are still on the source: neither copy is whole, so a broken stream must be paused and
// resumed (QEMU's post-copy recovery), never abandoned on either side.
import type { QueryMigrate } from './migration-stats.js';
import type { QmpClient } from './qmp.js';
import { sleep } from '../util/timers.js';

/** Forces a post-copy stream into `postcopy-paused` (QEMU shuts its socket down), from which it can be resumed. */
export async function pausePostcopy(qmp: QmpClient): Promise<void> {
  const reply = await qmp.execute<QueryMigrate>('query-migrate').catch(() => undefined);
  if (reply?.status !== 'postcopy-active') return;
  await qmp.execute('migrate-pause').catch(() => undefined);
  for (let attempt = 0; attempt < 50; attempt++) {
    const now = await qmp.execute<QueryMigrate>('query-migrate').catch(() => undefined);
    if (now?.status !== 'postcopy-active') return;
    await sleep(100);
  }
}
