import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addMigrationOptions } from '../../../src/options/commander.js';
import { longFlag, MIGRATION_OPTIONS, optionsOf } from '../../../src/options/table.js';
import { buildProgram } from '../../../src/cli/program.js';
import { VERSION } from '../../../src/version.js';

const flagsOf = (command: Command) => command.options.map((option) => option.long);

describe('the options table', () => {
  it("names each row by its flag's commander attribute, once", () => {
    const command = addMigrationOptions(new Command('x'), 'migrate');
    const rowOptions = command.options.filter((option) =>
      MIGRATION_OPTIONS.some((row) => longFlag(row.flag) === option.long),
    );
    expect(rowOptions.map((option) => option.attributeName())).toEqual(MIGRATION_OPTIONS.map((row) => row.key));
    expect(new Set(MIGRATION_OPTIONS.map((row) => row.key)).size).toBe(MIGRATION_OPTIONS.length);
    const configKeys = MIGRATION_OPTIONS.flatMap((row) => (row.config ? [row.config] : []));
    expect(new Set(configKeys).size).toBe(configKeys.length);
  });

  it('gives migrate every row and evacuate every per-guest row, with aliases', () => {
    const program = buildProgram(VERSION);
    const command = (name: string) => program.commands.find((c) => c.name() === name)!;
    const expected = (name: 'migrate' | 'evacuate') =>
      optionsOf(name).flatMap((row) => [longFlag(row.flag), ...(row.aliases ?? []).map((alias) => alias.flag)]);
    // In table order; the commands' own options (migrate --dry-run, evacuate --to, ...) come outside the table.
    const fromTable = (name: 'migrate' | 'evacuate') =>
      flagsOf(command(name)).filter((flag) => expected('migrate').includes(flag!));
    expect(fromTable('migrate')).toEqual(expected('migrate'));
    expect(fromTable('evacuate')).toEqual(expected('evacuate'));
    // The ones evacuate lacked before the table.
    for (const flag of [
      '--postcopy',
      '--parallel',
      '--compressed',
      '--auto-converge-initial',
      '--auto-converge-increment',
      '--listen-address',
      '--migrate-uri',
    ]) {
      expect(flagsOf(command('evacuate'))).toContain(flag);
    }
  });

  it('shows ranges and defaults in help, and offers the choices', () => {
    const help = addMigrationOptions(new Command('x'), 'migrate').helpInformation();
    expect(help).toMatch(/--downtime-steps <n>[\s\S]*\(2-20\)/);
    expect(help).toMatch(/--stall-timeout <seconds>[\s\S]*\(default:\s+30\)/);
    expect(help).toMatch(/--port-range <from-to>[\s\S]*49152-49215/);
    // Help wraps at the terminal's width, anywhere between the choices.
    expect(help).toMatch(/choices:\s+"auto",\s+"direct",\s+"tls",\s+"ssh"/);
  });

  it('refuses an unknown choice through commander', () => {
    const command = addMigrationOptions(new Command('x'), 'migrate')
      .exitOverride()
      .configureOutput({ writeErr: () => undefined });
    expect(() => command.parse(['--timeout-action', 'later'], { from: 'user' })).toThrow(
      /Allowed choices are abort, suspend, postcopy/,
    );
  });
});
