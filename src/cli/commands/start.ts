import { assertDomainName } from '../../domain/definition.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const start: Action = async (globals, [name], options) => {
  assertDomainName(name!);
  const output = new Output(globals);
  const result = await withHost(globals, (host) =>
    host.call('domain.start', { name: name!, paused: options.paused === true }),
  );
  if (globals.json) output.event(result);
  else
    output.result(
      `Domain ${result.name} started${options.paused ? ' paused' : ''} (pid ${result.pid}, ${result.accel})`,
    );
};
export default start;
