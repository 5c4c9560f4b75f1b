// The bash completion script, rendered from the completion model (see model.ts).
import { valueOptions, type CompletionModel, type OptionModel, type ValueKind } from './model.js';

const HEADER = `# bash completion for vmig                                  -*- shell-script -*-
# Generated from vmig's command definition (npm run completions); do not edit.
# Load with:  source <(vmig completion bash)
# or install: vmig completion bash > /usr/share/bash-completion/completions/vmig

# Domain names from the host named on the command line (-c/--connect, --config): one \`vmig list\`,
# bounded by a timeout so that an unreachable host never hangs the shell.
_vmig_domains() {
    local -a args=()
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "\${COMP_WORDS[i]}" in
            -c | --connect | --config) args+=("\${COMP_WORDS[i]}" "\${COMP_WORDS[i + 1]}") ;;
            --connect=* | --config=*) args+=("\${COMP_WORDS[i]}") ;;
        esac
    done
    timeout 10 "\${COMP_WORDS[0]}" "\${args[@]}" list --all --json 2>/dev/null |
        tr '{' '\\n' | sed -n 's/.*"name":"\\([^"]*\\)".*/\\1/p'
}

_vmig_hosts() {
    local aliases
    aliases=$(awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' ~/.ssh/config 2>/dev/null)
    COMPREPLY+=($(compgen -W "local $aliases" -- "$1"))
}
`;

const names = (option: OptionModel) => [option.short, option.long].filter((name): name is string => name !== undefined);
const pattern = (options: OptionModel[]) => options.flatMap(names).join(' | ');

/** The command that fills COMPREPLY for a value of this kind (empty: offer nothing). */
function reply(value: ValueKind, commands: string): string {
  switch (value.kind) {
    case 'none':
      return '';
    case 'choices':
      return `COMPREPLY=($(compgen -W "${value.choices.join(' ')}" -- "$cur"))`;
    case 'host':
      return '_vmig_hosts "$cur"';
    case 'file':
      return value.glob
        ? `COMPREPLY=($(compgen -f -X '!${value.glob}' -- "$cur") $(compgen -d -- "$cur"))`
        : 'COMPREPLY=($(compgen -f -- "$cur"))';
    case 'domain':
      return 'COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur"))';
    case 'command':
      return `COMPREPLY=($(compgen -W "${commands}" -- "$cur"))`;
  }
}

/** `case "$prev"` arms completing option values; options with nothing to offer end completion. */
function valueCases(options: OptionModel[], commands: string, indent: string): string[] {
  const withValues = options.filter((option) => option.value);
  const byReply = new Map<string, OptionModel[]>();
  for (const option of withValues) {
    const key = reply(option.value!, commands);
    byReply.set(key, [...(byReply.get(key) ?? []), option]);
  }
  return [...byReply].map(
    ([command, group]) => `${indent}${pattern(group)}) ${command ? `${command}; ` : ''}return ;;`,
  );
}

export function renderBash(model: CompletionModel): string {
  const commands = model.commands.map((command) => command.name).join(' ');
  const globalOptions = model.globals.flatMap(names).join(' ');
  const lines = [
    HEADER,
    '_vmig() {',
    '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD - 1]}"',
    `    local commands="${commands}"`,
    `    local global_opts="${globalOptions}"`,
    '    COMPREPLY=()',
    '',
    "    # The subcommand is the first word that is neither an option nor an option's value; count positionals after it.",
    '    local i cmd="" positional=0',
    '    for ((i = 1; i < COMP_CWORD; i++)); do',
    '        case "${COMP_WORDS[i]}" in',
    `            ${pattern(valueOptions(model))}) ((i++)) ;;`,
    '            -*) ;;',
    '            *) if [[ -z $cmd ]]; then cmd="${COMP_WORDS[i]}"; else ((positional++)); fi ;;',
    '        esac',
    '    done',
    '',
    '    # A value of a global option.',
    '    case "$prev" in',
    ...valueCases(model.globals, commands, '        '),
    '    esac',
    '',
    '    if [[ -z $cmd ]]; then',
    '        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$global_opts" -- "$cur")); else COMPREPLY=($(compgen -W "$commands" -- "$cur")); fi',
    '        return',
    '    fi',
    '',
    "    # The command's options, a value of one of them, or its positional arguments.",
    '    local opts=""',
    '    case "$cmd" in',
  ];
  for (const command of model.commands) {
    const own = command.options.flatMap(names).join(' ');
    const values = valueCases(command.options, commands, '                ');
    if (!own && values.length === 0) continue;
    lines.push(`        ${command.name})`, `            opts="${own}"`);
    if (values.length) lines.push('            case "$prev" in', ...values, '            esac');
    lines.push('            ;;');
  }
  lines.push(
    '    esac',
    '    if [[ $cur == -* ]]; then',
    '        COMPREPLY=($(compgen -W "$opts $global_opts" -- "$cur"))',
    '        return',
    '    fi',
    '',
    '    case "$cmd" in',
  );
  for (const command of model.commands) {
    const arms = [
      ...command.args.map((arg, index) => [String(index), reply(arg, commands)] as const),
      ...(command.rest ? [['*', reply(command.rest, commands)] as const] : []),
    ].filter(([, command]) => command !== '');
    if (arms.length === 0) continue;
    lines.push(
      `        ${command.name})`,
      '            case $positional in',
      ...arms.map(([index, command]) => `                ${index}) ${command} ;;`),
      '            esac',
      '            ;;',
    );
  }
  lines.push('    esac', '}', '', 'complete -F _vmig vmig', '');
  return lines.join('\n');
}
