// `vmig domjobabort NAME`: cancels the stream of a running migration job. The job's own agent then restores
// the source and its controller rolls back and exits 1: the guest keeps running where it was.
import { assertDomainName } from '../../domain/definition.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const domjobabort: Action = async (globals, [name]) => {
  assertDomainName(name!);
  const output = new Output(globals);
  const result = await withHost(globals, (host) => host.call('job.abort', { name: name! }));
  if (globals.json) output.result(JSON.stringify(result));
  else if (result.cancelled)
    output.result(`Cancelled job ${result.migrationId} of ${name}; it keeps running on ${globals.connect}`);
  else
    output.result(
      `Job ${result.migrationId} of ${name} ended before it could be cancelled (${result.detail ?? 'no detail'})`,
    );
};
export default domjobabort;
