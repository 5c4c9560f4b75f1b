import { withHost } from '../hosts.js';
import { Output, table } from '../output.js';
import type { Action } from '../action.js';

const list: Action = async (globals, _args, options) => {
  const output = new Output(globals);
  const rows = await withHost(globals, (host) => host.call('domain.list', { all: options.all === true }));
  // The other guests are still listed; the one whose QEMU did not answer is "unknown", and why is said here.
  for (const row of rows) if (row.problem) output.warn(row.problem);
  if (globals.json) {
    output.result(JSON.stringify(rows));
    return;
  }
  output.result(
    table(
      ['Name', 'UUID', 'State', 'Persistent'],
      rows.map((row) => [row.name, row.uuid, row.state, row.persistent ? 'yes' : 'no']),
    ),
  );
};
export default list;
