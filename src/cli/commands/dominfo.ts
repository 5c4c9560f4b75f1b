import { assertDomainName } from '../../domain/definition.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const dominfo: Action = async (globals, [name]) => {
  assertDomainName(name!);
  const output = new Output(globals);
  const info = await withHost(globals, (host) => host.call('domain.info', { name: name! }));
  if (globals.json) {
    output.result(JSON.stringify(info));
    return;
  }
  const lines: Array<[string, string | number | undefined]> = [
    ['Name', info.name],
    ['UUID', info.uuid],
    ['State', info.state],
    ['Persistent', info.persistent ? 'yes' : 'no'],
    ['Memory', `${info.memoryMiB} MiB`],
    ['vCPUs', info.vcpus],
    ['Machine', info.machine],
    ['Accel', info.accel],
    ['QEMU pid', info.pid],
    ['Started', info.startedAt],
  ];
  output.result(
    lines
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${`${key}:`.padEnd(12)}${value}`)
      .join('\n'),
  );
};
export default dominfo;
