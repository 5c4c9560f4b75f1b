// The fish completion script, rendered from the completion model (see model.ts).
import { summary, type CompletionModel, type OptionModel, type ValueKind } from './model.js';

const HEADER = `# fish completion for vmig
# Generated from vmig's command definition (npm run completions); do not edit.
# Load with:  vmig completion fish | source
# or install: vmig completion fish > ~/.config/fish/completions/vmig.fish

# Domain names from the host named on the command line (-c/--connect, --config): one bounded \`vmig list\`.
function __vmig_domains
    set -l tokens (commandline -opc)
    set -l args
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case -c --connect --config
                set -a args $tokens[$i] $tokens[(math $i + 1)]
            case '--connect=*' '--config=*'
                set -a args $tokens[$i]
        end
    end
    timeout 10 $tokens[1] $args list --all --json 2>/dev/null | string replace -ra '\\{' '\\n{' | string match -rg '"name":"([^"]*)"'
end

function __vmig_hosts
    echo local
    awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' ~/.ssh/config 2>/dev/null
end
`;

const quoted = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function values(value: ValueKind | undefined): string {
  if (!value) return '';
  switch (value.kind) {
    case 'none':
      return ' -x';
    case 'choices':
      return ` -x -a ${quoted(value.choices.join(' '))}`;
    case 'host':
      return " -x -a '(__vmig_hosts)'";
    case 'file':
      return ' -r -F';
    case 'domain':
      return " -x -a '(__vmig_domains)'";
    case 'command':
      return ' -x -a "$vmig_commands"';
  }
}

function optionLine(option: OptionModel, condition: string): string {
  const short = option.short ? ` -s ${option.short.slice(1)}` : '';
  return `complete -c vmig${condition}${short} -l ${option.long.slice(2)}${values(option.value)} -d ${quoted(summary(option.description))}`;
}

function argumentLine(command: string, value: ValueKind): string | undefined {
  const seen = ` -n "__fish_seen_subcommand_from ${command}"`;
  switch (value.kind) {
    case 'none':
      return undefined;
    case 'choices':
      return `complete -c vmig${seen} -a ${quoted(value.choices.join(' '))}`;
    case 'host':
      return `complete -c vmig${seen} -a '(__vmig_hosts)'`;
    case 'file':
      return `complete -c vmig${seen} -F`;
    case 'domain':
      return `complete -c vmig${seen} -a '(__vmig_domains)'`;
    case 'command':
      return `complete -c vmig${seen} -a "$vmig_commands"`;
  }
}

export function renderFish(model: CompletionModel): string {
  const fresh = ' -n "not __fish_seen_subcommand_from $vmig_commands"';
  const lines = [
    HEADER,
    `set -l vmig_commands ${model.commands.map((command) => command.name).join(' ')}`,
    'complete -c vmig -f',
    '',
    '# Global options',
    ...model.globals.map((option) => optionLine(option, '')),
    '',
    '# Commands',
    ...model.commands.map(
      (command) => `complete -c vmig${fresh} -a ${command.name} -d ${quoted(summary(command.description))}`,
    ),
    '',
    '# Arguments (fish cannot tell positions apart: each kind the command takes is offered)',
  ];
  for (const command of model.commands) {
    const kinds = [...command.args, ...(command.rest ? [command.rest] : [])]
      .map((arg) => argumentLine(command.name, arg))
      .filter((line): line is string => line !== undefined);
    lines.push(...kinds.filter((line, index) => kinds.indexOf(line) === index));
  }
  lines.push('', '# Command options');
  for (const command of model.commands) {
    lines.push(
      ...command.options.map((option) => optionLine(option, ` -n "__fish_seen_subcommand_from ${command.name}"`)),
    );
  }
  lines.push('');
  return lines.join('\n');
}
