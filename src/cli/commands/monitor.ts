import { assertDomainName } from '../../domain/definition.js';
import { VmigError } from '../../errors.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

// Like `virsh qemu-monitor-command`: the reply is printed as QEMU gave it ({"return": ...} or {"error": ...}).
const monitor: Action = async (globals, [name, command], options) => {
  assertDomainName(name!);
  const output = new Output(globals);
  const reply = await withHost(globals, (host) => host.call('domain.monitor', { name: name!, command: command! }));
  if (reply.error)
    throw new VmigError('QEMU_FAILED', `QEMU refused the command: ${reply.error.class}: ${reply.error.desc}`);
  output.result(options.pretty ? JSON.stringify(reply, null, 2) : JSON.stringify(reply));
};
export default monitor;
