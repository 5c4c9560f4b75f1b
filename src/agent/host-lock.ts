// The per-source-host evacuation lock, in the spirit of locks.ts: a file naming its holder (the agent process
// serving that evacuation's controller), cleared by the next taker once that process is gone. Beside it an
// abort marker, written by `vmig evacuate SRC --abort` from another shell and polled by the running job.
// Both names start with "@", which no domain name can, so they never collide with per-domain locks.
import { join } from 'node:path';
import { z } from 'zod';
import { VmigError } from '../errors.js';
import { jobIdSchema } from '../protocol/ids.js';
import { readJsonOrUndefined, unlinkIfPresent, writeFileDurable } from '../util/fs.js';
import type { AgentContext } from './context.js';
import { LockFile, type LockOwner } from './lock-file.js';

export interface EvacuationHolder extends LockOwner {
  jobId: string;
  controller: string;
  startedAt: string;
}

const jobParams = z.object({ jobId: jobIdSchema });
const lockParams = jobParams.extend({ controller: z.string().max(255) });
const abortParams = z.object({ requestedBy: z.string().max(255).default('unknown') });

export function evacuationHandlers(context: AgentContext) {
  const lockFile = () => new LockFile<Omit<EvacuationHolder, keyof LockOwner>>(join(context.state.locksDir, '@evacuation.lock'));
  const abortPath = () => join(context.state.locksDir, '@evacuation.abort');

  async function liveHolder(): Promise<EvacuationHolder | undefined> {
    const state = await lockFile().inspect();
    return state?.alive ? state.holder : undefined;
  }

  return {
    /** Takes the source host's evacuation lock, or fails at once (LOCKED) naming the job that holds it. */
    async 'evacuation.lock'(params: unknown) {
      const { jobId, controller } = lockParams.parse(params);
      await context.state.ensure();
      let result;
      try {
        result = await lockFile().acquire({ jobId, controller, startedAt: new Date().toISOString() });
      } catch (error) {
        throw new VmigError('LOCKED', `could not take the evacuation lock of ${context.host}: ${(error as Error).message}`);
      }
      if (!result.acquired) {
        const current = result.holder;
        throw new VmigError('LOCKED', `${context.host} is already being evacuated by job ${current.jobId} (controller ${current.controller}, started ${current.startedAt})`);
      }
      // A marker left by an earlier, finished job must not abort this one.
      await unlinkIfPresent(abortPath());
      return { jobId };
    },

    async 'evacuation.unlock'(params: unknown) {
      const { jobId } = jobParams.parse(params);
      if (await lockFile().release((holder) => holder.jobId === jobId)) await unlinkIfPresent(abortPath());
      return {};
    },

    /** Asks the running evacuation of this host to schedule nothing new. */
    async 'evacuation.abort'(params: unknown) {
      const { requestedBy } = abortParams.parse(params ?? {});
      const current = await liveHolder();
      if (!current) throw new VmigError('NO_JOB', `no evacuation of ${context.host} is running`);
      await writeFileDurable(abortPath(), `${JSON.stringify({ jobId: current.jobId, requestedBy, requestedAt: new Date().toISOString() })}\n`);
      context.log(`abort of evacuation ${current.jobId} requested by ${requestedBy}`);
      return { jobId: current.jobId };
    },

    /** Polled by the running job: whether someone asked it to stop. */
    async 'evacuation.status'(params: unknown) {
      const { jobId } = jobParams.parse(params);
      const marker = await readJsonOrUndefined<{ jobId: string; requestedBy: string }>(abortPath()).catch(() => undefined);
      return marker?.jobId === jobId ? { abortRequested: true, requestedBy: marker.requestedBy } : { abortRequested: false };
    },
  };
}
