// `vmig migrate-setspeed NAME MiB/s`: changes the bandwidth cap of a running migration job (0 lifts it).
import { assertDomainName } from '../../domain/definition.js';
import { VmigError } from '../../errors.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const setspeed: Action = async (globals, [name, speed]) => {
  assertDomainName(name!);
  const bandwidthMiBs = Number(speed);
  if (!/^\d+$/.test(speed ?? '') || !Number.isSafeInteger(bandwidthMiBs))
    throw new VmigError('USAGE', `the speed takes a whole number of MiB/s (0 = no cap), not "${speed}"`);
  const output = new Output(globals);
  const result = await withHost(globals, (host) => host.call('job.setSpeed', { name: name!, bandwidthMiBs }));
  if (globals.json) output.result(JSON.stringify({ name, migrationId: result.migrationId, bandwidthMiBs }));
  else
    output.result(
      `Job ${result.migrationId} of ${name}: bandwidth ${bandwidthMiBs === 0 ? 'uncapped' : `capped at ${bandwidthMiBs} MiB/s`}`,
    );
};
export default setspeed;
