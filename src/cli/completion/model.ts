// What a shell needs to complete vmig, read from the commander definition: commands, their options (which
// take a value, and of what kind) and their positional arguments. The three scripts are rendered from it
// (bash.ts, zsh.ts, fish.ts), so a new command or option is completable without touching them.
import type { Argument, Command, Option } from 'commander';

/** How to complete a value: nothing to offer, fixed words, a host, a file, a domain on the host, a command. */
export type ValueKind =
  | { kind: 'none'; label: string }
  | { kind: 'choices'; label: string; choices: readonly string[] }
  | { kind: 'host'; label: string }
  | { kind: 'file'; label: string; glob?: string }
  | { kind: 'domain'; label: string }
  | { kind: 'command'; label: string };

export interface OptionModel {
  long: string;
  short?: string;
  description: string;
  /** Undefined for a switch. */
  value?: ValueKind;
}

export interface CommandModel {
  name: string;
  description: string;
  options: OptionModel[];
  args: ValueKind[];
  /** What every further argument is (a variadic last argument such as <hosts...>). */
  rest?: ValueKind;
}

export interface CompletionModel {
  globals: OptionModel[];
  commands: CommandModel[];
}

// The few hints commander cannot give: which values are hosts, files or domains.
const HOST_OPTIONS = new Set(['--connect', '--to', '--destination', '--from']);
const FILE_OPTIONS = new Set(['--config']);
const ARGUMENT_KINDS: Record<string, (label: string) => ValueKind> = {
  name: (label) => ({ kind: 'domain', label }),
  dest: (label) => ({ kind: 'host', label }),
  source: (label) => ({ kind: 'host', label }),
  hosts: (label) => ({ kind: 'host', label }),
  file: (label) => ({ kind: 'file', label, glob: '*.json' }),
};

const isHidden = (command: Command) => (command as unknown as { _hidden?: boolean })._hidden === true;
const label = (option: Option) => /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1] ?? 'value';

function optionModel(option: Option): OptionModel {
  const takesValue = option.required || option.optional;
  const value: ValueKind | undefined = !takesValue
    ? undefined
    : option.argChoices
      ? { kind: 'choices', label: label(option), choices: option.argChoices }
      : HOST_OPTIONS.has(option.long ?? '')
        ? { kind: 'host', label: label(option) }
        : FILE_OPTIONS.has(option.long ?? '')
          ? { kind: 'file', label: label(option) }
          : { kind: 'none', label: label(option) };
  return {
    long: option.long!,
    ...(option.short ? { short: option.short } : {}),
    description: option.description,
    ...(value ? { value } : {}),
  };
}

function argumentModel(argument: Argument): ValueKind {
  const name = argument.name();
  if (argument.argChoices) return { kind: 'choices', label: name, choices: argument.argChoices };
  return ARGUMENT_KINDS[name]?.(argument.description || name) ?? { kind: 'none', label: argument.description || name };
}

function commandModel(command: Command): CommandModel {
  const options = command.options.filter((option) => !option.hidden).map(optionModel);
  const args = command.registeredArguments.map(argumentModel);
  const last = command.registeredArguments.at(-1);
  const model: CommandModel = { name: command.name(), description: command.description(), options, args };
  if (last?.variadic) model.rest = args.at(-1)!;
  const subcommands = command.commands.filter((sub) => !isHidden(sub));
  if (subcommands.length === 0) return model;
  // `vmig host install|check HOST...`: the subcommand word first, then the first subcommand's arguments;
  // options of every subcommand (shells complete them without knowing which one was typed).
  const subs = subcommands.map(commandModel);
  const merged = new Map<string, OptionModel>();
  for (const option of [...options, ...subs.flatMap((sub) => sub.options)])
    if (!merged.has(option.long)) merged.set(option.long, option);
  return {
    ...model,
    options: [...merged.values()],
    args: [{ kind: 'choices', label: 'subcommand', choices: subs.map((sub) => sub.name) }, ...subs[0]!.args],
    ...(subs[0]!.rest ? { rest: subs[0]!.rest } : {}),
  };
}

export function completionModel(program: Command): CompletionModel {
  const globals = [
    ...program.options.filter((option) => !option.hidden).map(optionModel),
    { long: '--help', short: '-h', description: 'display help' },
  ];
  const commands = program.commands.filter((command) => !isHidden(command)).map(commandModel);
  commands.push({
    name: 'help',
    description: 'display help for a command',
    options: [],
    args: [{ kind: 'command', label: 'command' }],
  });
  return { globals, commands };
}

/** A description short enough for a completion menu: its first clause, unless that says too little. */
export function summary(description: string): string {
  const first = description.split(/; |: | \(/)[0]!;
  return first.length >= 16 ? first : description;
}

/** Every option that takes a value, across the program (to skip values when looking for the command word). */
export const valueOptions = (model: CompletionModel): OptionModel[] => {
  const all = [...model.globals, ...model.commands.flatMap((command) => command.options)].filter(
    (option) => option.value,
  );
  return all.filter((option, index) => all.findIndex((other) => other.long === option.long) === index);
};
