// The zsh completion script, rendered from the completion model (see model.ts).
import { summary, type CompletionModel, type OptionModel, type ValueKind } from './model.js';

const HEADER = `#compdef vmig
# zsh completion for vmig
# Generated from vmig's command definition (npm run completions); do not edit.
# Load with:  source <(vmig completion zsh)
# or install: vmig completion zsh > "\${fpath[1]}/_vmig"

# Domain names from the host named on the command line (-c/--connect, --config): one bounded \`vmig list\`.
_vmig_domains() {
  local -a args names
  local i
  for ((i = 2; i < CURRENT; i++)); do
    case \${words[i]} in
      -c|--connect|--config) args+=(\${words[i]} \${words[i+1]}) ;;
      --connect=*|--config=*) args+=(\${words[i]}) ;;
    esac
  done
  names=(\${(f)"$(timeout 10 \${words[1]} $args list --all --json 2>/dev/null | tr '{' '\\n' | sed -n 's/.*"name":"\\([^"]*\\)".*/\\1/p')"})
  _describe -t domains 'domain' names
}

_vmig_hosts() {
  local -a aliases
  aliases=(local \${(f)"$(awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' ~/.ssh/config 2>/dev/null)"})
  _describe -t hosts 'host' aliases
}
`;

/** Inside a single-quoted word. */
const quoted = (text: string) => text.replace(/'/g, `'"'"'`);
/** An _arguments description in [...] or a message between colons. */
const plain = (text: string) => quoted(text.replace(/[[\]]/g, (c) => `\\${c}`).replace(/:/g, '\\:'));

function action(value: ValueKind): string {
  switch (value.kind) {
    case 'none':
      return ' ';
    case 'choices':
      return `(${value.choices.join(' ')})`;
    case 'host':
      return '_vmig_hosts';
    case 'file':
      return value.glob ? `_files -g "${value.glob}"` : '_files';
    case 'domain':
      return '_vmig_domains';
    case 'command':
      return '_vmig_commands';
  }
}

function optionSpec(option: OptionModel): string {
  const value = option.value ? `:${plain(option.value.label)}:${action(option.value)}` : '';
  const description = `[${plain(summary(option.description))}]${value}`;
  if (!option.short) return `'${option.long}${description}'`;
  const exclusive =
    option.long === '--help' || option.long === '--version' ? '(- *)' : `(${option.short} ${option.long})`;
  return `'${exclusive}'{${option.short},${option.long}}'${description}'`;
}

const argumentSpec = (value: ValueKind, index: number) => `'${index + 1}:${plain(value.label)}:${action(value)}'`;

export function renderZsh(model: CompletionModel): string {
  const lines = [
    HEADER,
    '_vmig_commands() {',
    '  local -a commands',
    '  commands=(',
    ...model.commands.map((command) => `    '${plain(command.name)}:${quoted(summary(command.description))}'`),
    '  )',
    "  _describe -t commands 'vmig command' commands",
    '}',
    '',
    '_vmig() {',
    '  local curcontext="$curcontext" state line ret=1',
    '  typeset -A opt_args',
    '',
    '  _arguments -C \\',
    ...model.globals.map((option) => `    ${optionSpec(option)} \\`),
    "    '1: :->command' \\",
    "    '*:: :->args' && ret=0",
    '',
    '  case $state in',
    '    command) _vmig_commands && ret=0 ;;',
    '    args)',
    '      curcontext="${curcontext%:*:*}:vmig-${words[1]}:"',
    '      case ${words[1]} in',
  ];
  for (const command of model.commands) {
    const rest = command.rest ? [`'*:${plain(command.rest.label)}:${action(command.rest)}'`] : [];
    const specs = [...command.options.map(optionSpec), ...command.args.map(argumentSpec), ...rest];
    if (specs.length === 0) continue;
    lines.push(
      `        ${command.name})`,
      '          _arguments \\',
      ...specs.map((spec) => `            ${spec} \\`),
      '            && ret=0',
      '          ;;',
    );
  }
  lines.push(
    '      esac',
    '      ;;',
    '  esac',
    '  return ret',
    '}',
    '',
    'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then',
    '  _vmig "$@"',
    'else',
    '  compdef _vmig vmig',
    'fi',
    '',
  );
  return lines.join('\n');
}
