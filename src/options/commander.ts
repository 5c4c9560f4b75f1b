// The commander options of `migrate` and `evacuate`, built from the options table. No defaults are set in
// commander: resolveMigrationOptions applies flag > config file > table default, and help shows the default.
import { Option, type Command } from 'commander';
import { optionsOf, type MigrationOption } from './table.js';

function describe(row: MigrationOption): string {
  const spec = row.value;
  const range = spec.kind === 'int' && spec.max !== undefined ? ` (${spec.min}-${spec.max})` : '';
  const fallback = row.default !== undefined ? ` (default: ${String(row.default)})` : '';
  return `${row.help}${range}${fallback}`;
}

/** A repeatable flag's values, in order. */
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Adds the table's options that `command` takes, in table order, each with its aliases after it. */
export function addMigrationOptions(command: Command, name: 'migrate' | 'evacuate'): Command {
  for (const row of optionsOf(name)) {
    const option = new Option(row.flag, describe(row));
    if (row.value.kind === 'choice') option.choices(row.value.choices);
    if (row.value.kind === 'storage-map') option.argParser(collect);
    command.addOption(option);
    for (const alias of row.aliases ?? []) command.addOption(new Option(alias.flag, alias.help));
  }
  return command;
}
