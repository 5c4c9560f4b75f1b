import { readFile } from 'node:fs/promises';
import { parseDomainFile } from '../../domain/definition.js';
import { VmigError } from '../../errors.js';
import { withHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const define: Action = async (globals, [file]) => {
  const output = new Output(globals);
  let text: string;
  try {
    text = await readFile(file!, 'utf8');
  } catch (error) {
    throw new VmigError(
      'BAD_DOMAIN_FILE',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
  // Validated here first, so a bad file is refused before any host is contacted.
  parseDomainFile(text, file!);
  const raw = JSON.parse(text) as Record<string, unknown>;
  const result = await withHost(globals, (host) => host.call('domain.define', { definition: raw }));
  for (const warning of result.warnings ?? []) output.warn(warning);
  if (globals.json) output.event(result);
  else output.result(`Domain ${result.name} ${result.updated ? 'updated' : 'defined'} (uuid ${result.uuid})`);
};
export default define;
