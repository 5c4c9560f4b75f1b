import { assertDomainName } from '../../domain/definition.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const destroy: Action = async (globals, [name]) => {
  assertDomainName(name!);
  const output = new Output(globals);
  const result = await withHost(globals, (host) => host.call('domain.destroy', { name: name! }));
  if (globals.json) output.event(result);
  else output.result(`Domain ${result.name} destroyed`);
};
export default destroy;
