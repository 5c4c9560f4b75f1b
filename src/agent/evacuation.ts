// Agent handlers for `vmig evacuate`: the source host's evacuation lock and the abort request of a running job.
import { VmigError } from '../errors.js';
import type { HandlerGroup } from '../protocol/table.js';
import type { AgentContext } from './context.js';
import { HostLock } from './host-lock.js';

export function evacuationHandlers(
  context: AgentContext,
): HandlerGroup<'evacuation.lock' | 'evacuation.unlock' | 'evacuation.abort' | 'evacuation.status'> {
  const lock = new HostLock(context.state, () => context.host);

  return {
    /** Takes the source host's evacuation lock, or fails at once (LOCKED) naming the job that holds it. */
    async 'evacuation.lock'({ jobId, controller }) {
      await lock.acquire(jobId, controller);
      return { jobId };
    },

    async 'evacuation.unlock'({ jobId }) {
      await lock.release(jobId);
      return {};
    },

    /** Asks the running evacuation of this host to schedule nothing new. */
    async 'evacuation.abort'({ requestedBy }) {
      const current = await lock.liveHolder();
      if (!current) throw new VmigError('NO_JOB', `no evacuation of ${context.host} is running`);
      await lock.requestAbort({ jobId: current.jobId, requestedBy });
      context.log(`abort of evacuation ${current.jobId} requested by ${requestedBy}`);
      return { jobId: current.jobId };
    },

    /** Polled by the running job: whether someone asked it to stop. */
    async 'evacuation.status'({ jobId }) {
      const marker = await lock.abortMarker();
      return marker?.jobId === jobId
        ? { abortRequested: true, requestedBy: marker.requestedBy }
        : { abortRequested: false };
    },
  };
}
