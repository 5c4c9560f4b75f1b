// Every row of the options table reaches every place an operator looks: migrate --help, evacuate --help, the
// config schema, the three completion scripts (under each command) and man/vmig.1. Adding a row without
// `npm run completions` or a man entry fails here, naming the row and the place.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program.js';
import { configSchema } from '../../../src/config/schema.js';
import { longFlag, MIGRATION_OPTIONS, optionsOf } from '../../../src/options/table.js';
import { VERSION } from '../../../src/version.js';
import { manItems, manSection, read, scripts, word } from '../docs-text.js';

const program = buildProgram(VERSION);
const command = (name: string): Command => program.commands.find((c) => c.name() === name)!;
const flags = (row: (typeof MIGRATION_OPTIONS)[number]) => [
  longFlag(row.flag),
  ...(row.aliases ?? []).map((alias) => alias.flag),
];
const evacuating = MIGRATION_OPTIONS.filter((row) => row.evacuate !== false);

/** The lines of a completion script that belong to one command. */
function completionFor(shell: keyof typeof scripts, name: string): string {
  const script = scripts[shell];
  if (shell === 'fish')
    return script
      .split('\n')
      .filter((line) => line.includes(`__fish_seen_subcommand_from ${name}"`))
      .join('\n');
  // bash and zsh: the `NAME)` arm of the per-command case, up to its `;;`.
  const arm = new RegExp(`^\\s+${name}\\)\\n([\\s\\S]*?)^\\s+;;`, 'm').exec(script);
  return arm?.[1] ?? '';
}

describe('every migration option appears everywhere', () => {
  it.each([['migrate'], ['evacuate']] as const)('in `vmig %s --help`', (name) => {
    const help = command(name).helpInformation();
    const missing = optionsOf(name)
      .flatMap(flags)
      .filter((flag) => !word(help, flag));
    expect(missing).toEqual([]);
  });

  it('in the config schema, top level and per host, under its key', () => {
    const hostShape = (configSchema.shape.hosts.unwrap().valueType as unknown as { shape: Record<string, unknown> })
      .shape;
    const missing = MIGRATION_OPTIONS.filter(
      (row) => row.config !== undefined && !(row.config in configSchema.shape && row.config in hostShape),
    ).map((row) => row.config);
    expect(missing).toEqual([]);
    // And nothing in the schema's migration keys that no row explains.
    const known = new Set([
      'connect',
      'hosts',
      ...MIGRATION_OPTIONS.flatMap((row) => (row.config ? [row.config] : [])),
    ]);
    expect(Object.keys(configSchema.shape).filter((key) => !known.has(key))).toEqual([]);
  });

  it.each(Object.keys(scripts) as Array<keyof typeof scripts>)(
    'in the %s completion, under migrate and evacuate',
    (shell) => {
      const missing = [
        ...MIGRATION_OPTIONS.flatMap(flags)
          .filter((flag) => !word(completionFor(shell, 'migrate'), shell === 'fish' ? flag.slice(2) : flag))
          .map((flag) => `migrate ${flag}`),
        ...evacuating
          .flatMap(flags)
          .filter((flag) => !word(completionFor(shell, 'evacuate'), shell === 'fish' ? flag.slice(2) : flag))
          .map((flag) => `evacuate ${flag}`),
      ];
      expect(missing).toEqual([]);
    },
  );

  it("in man/vmig.1: migrate's section lists exactly the table's options, in table order; evacuate's says it takes them", () => {
    const items = manItems(manSection('migrate'));
    const tableFlags = MIGRATION_OPTIONS.flatMap(flags);
    expect(items.filter((item) => tableFlags.includes(item))).toEqual(tableFlags);
    // Any other item there is one of migrate's own options (such as --dry-run), not a stale row.
    const own = command('migrate').options.map((option) => option.long);
    expect(items.filter((item) => !own.includes(item))).toEqual([]);
    const evacuate = manSection('evacuate').replace(/\s+/g, ' ');
    expect(evacuate).toContain(
      `It also takes every option of .B migrate from .B ${flags(MIGRATION_OPTIONS[0]!)[0]} to .BR ${longFlag(MIGRATION_OPTIONS.at(-1)!.flag)} ,`,
    );
    // A row that evacuate does not take must be named as an exception there.
    for (const row of MIGRATION_OPTIONS.filter((r) => r.evacuate === false))
      expect(evacuate).toMatch(new RegExp(`except[^.]*${longFlag(row.flag)}`));
  });

  it("in the README's option tables", () => {
    const readme = read('README.md');
    expect(
      MIGRATION_OPTIONS.flatMap(flags).filter((flag) => !new RegExp(`^\\| \`${flag}[ \`]`, 'm').test(readme)),
    ).toEqual([]);
  });
});
