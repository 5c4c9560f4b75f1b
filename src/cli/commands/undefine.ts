import { assertDomainName } from '../../domain/definition.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const undefine: Action = async (globals, [name]) => {
  assertDomainName(name!);
  const output = new Output(globals);
  const result = await withHost(globals, (host) => host.call('domain.undefine', { name: name! }));
  if (globals.json) output.event(result);
  else
    output.result(`Domain ${result.name} undefined${result.stillRunning ? ' (it keeps running until destroyed)' : ''}`);
};
export default undefine;
