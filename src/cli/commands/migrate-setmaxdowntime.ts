// `vmig migrate-setmaxdowntime NAME MS`: changes the longest switch-over pause a running migration job may impose.
import { assertDomainName } from '../../domain/definition.js';
import { VmigError } from '../../errors.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const setmaxdowntime: Action = async (globals, [name, ms]) => {
  assertDomainName(name!);
  const maxDowntimeMs = Number(ms);
  if (!/^\d+$/.test(ms ?? '') || maxDowntimeMs < 1 || maxDowntimeMs > 2_000_000)
    throw new VmigError('USAGE', `the downtime takes a whole number of milliseconds (1-2000000), not "${ms}"`);
  const output = new Output(globals);
  const result = await withHost(globals, (host) => host.call('job.setMaxDowntime', { name: name!, maxDowntimeMs }));
  if (globals.json) output.result(JSON.stringify({ name, migrationId: result.migrationId, maxDowntimeMs }));
  else output.result(`Job ${result.migrationId} of ${name}: max downtime ${maxDowntimeMs} ms`);
};
export default setmaxdowntime;
