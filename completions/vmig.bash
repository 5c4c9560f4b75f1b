# bash completion for vmig                                  -*- shell-script -*-
# Generated from vmig's command definition (npm run completions); do not edit.
# Load with:  source <(vmig completion bash)
# or install: vmig completion bash > /usr/share/bash-completion/completions/vmig

# Domain names from the host named on the command line (-c/--connect, --config): one `vmig list`,
# bounded by a timeout so that an unreachable host never hangs the shell.
_vmig_domains() {
    local -a args=()
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -c | --connect | --config) args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}") ;;
            --connect=* | --config=*) args+=("${COMP_WORDS[i]}") ;;
        esac
    done
    timeout 10 "${COMP_WORDS[0]}" "${args[@]}" list --all --json 2>/dev/null |
        tr '{' '\n' | sed -n 's/.*"name":"\([^"]*\)".*/\1/p'
}

_vmig_hosts() {
    local aliases
    aliases=$(awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' ~/.ssh/config 2>/dev/null)
    COMPREPLY+=($(compgen -W "local $aliases" -- "$1"))
}

_vmig() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD - 1]}"
    local commands="define undefine start destroy list dominfo qemu-monitor-command migrate evacuate domjobinfo domjobabort migrate-setspeed migrate-setmaxdowntime completion recover host help"
    local global_opts="-V --version -c --connect --config --json -q --quiet -v --verbose --no-color --debug --accept-new-host-key -h --help"
    COMPREPLY=()

    # The subcommand is the first word that is neither an option nor an option's value; count positionals after it.
    local i cmd="" positional=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -c | --connect | --config | --transport | --migrate-uri | --bandwidth | --max-downtime | --downtime-steps | --stall-timeout | --auto-converge-initial | --auto-converge-increment | --parallel | --timeout | --timeout-action | --listen-address | --port-range | --migrate-disks | --storage-map | --to | --max-parallel | --headroom | --only | --exclude | --destination | --from) ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd="${COMP_WORDS[i]}"; else ((positional++)); fi ;;
        esac
    done

    # A value of a global option.
    case "$prev" in
        -c | --connect) _vmig_hosts "$cur"; return ;;
        --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$global_opts" -- "$cur")); else COMPREPLY=($(compgen -W "$commands" -- "$cur")); fi
        return
    fi

    # The command's options, a value of one of them, or its positional arguments.
    local opts=""
    case "$cmd" in
        start)
            opts="--paused"
            ;;
        list)
            opts="--all"
            ;;
        qemu-monitor-command)
            opts="--pretty"
            ;;
        migrate)
            opts="--transport --tunnelled --direct --p2p --migrate-uri --persistent --undefinesource --force-definition --suspend --bandwidth --max-downtime --downtime-steps --stall-timeout --auto-converge --auto-converge-initial --auto-converge-increment --postcopy --postcopy-after-precopy --parallel --compressed --timeout --timeout-action --listen-address --port-range --copy-storage-all --copy-storage-inc --migrate-disks --copy-storage-synchronous-writes --storage-map --dry-run"
            case "$prev" in
                --transport) COMPREPLY=($(compgen -W "auto direct tls ssh" -- "$cur")); return ;;
                --migrate-uri | --bandwidth | --max-downtime | --downtime-steps | --stall-timeout | --auto-converge-initial | --auto-converge-increment | --parallel | --timeout | --listen-address | --port-range | --migrate-disks | --storage-map) return ;;
                --timeout-action) COMPREPLY=($(compgen -W "abort suspend postcopy" -- "$cur")); return ;;
            esac
            ;;
        evacuate)
            opts="--to --max-parallel --headroom --only --exclude --dry-run --abort --transport --tunnelled --direct --p2p --migrate-uri --persistent --undefinesource --force-definition --suspend --bandwidth --max-downtime --downtime-steps --stall-timeout --auto-converge --auto-converge-initial --auto-converge-increment --postcopy --postcopy-after-precopy --parallel --compressed --timeout --timeout-action --listen-address --port-range --copy-storage-all --copy-storage-synchronous-writes --storage-map"
            case "$prev" in
                --to) _vmig_hosts "$cur"; return ;;
                --max-parallel | --headroom | --only | --exclude | --migrate-uri | --bandwidth | --max-downtime | --downtime-steps | --stall-timeout | --auto-converge-initial | --auto-converge-increment | --parallel | --timeout | --listen-address | --port-range | --storage-map) return ;;
                --transport) COMPREPLY=($(compgen -W "auto direct tls ssh" -- "$cur")); return ;;
                --timeout-action) COMPREPLY=($(compgen -W "abort suspend postcopy" -- "$cur")); return ;;
            esac
            ;;
        recover)
            opts="--destination --dry-run --transport --p2p"
            case "$prev" in
                --destination) _vmig_hosts "$cur"; return ;;
                --transport) COMPREPLY=($(compgen -W "ssh tls direct" -- "$cur")); return ;;
            esac
            ;;
        host)
            opts="--parallel --from"
            case "$prev" in
                --parallel) return ;;
                --from) _vmig_hosts "$cur"; return ;;
            esac
            ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts $global_opts" -- "$cur"))
        return
    fi

    case "$cmd" in
        define)
            case $positional in
                0) COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur")) ;;
            esac
            ;;
        undefine)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        start)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        destroy)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        dominfo)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        qemu-monitor-command)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        migrate)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
                1) _vmig_hosts "$cur" ;;
            esac
            ;;
        evacuate)
            case $positional in
                0) _vmig_hosts "$cur" ;;
            esac
            ;;
        domjobinfo)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        domjobabort)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        migrate-setspeed)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        migrate-setmaxdowntime)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        completion)
            case $positional in
                0) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
            esac
            ;;
        recover)
            case $positional in
                0) COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")) ;;
            esac
            ;;
        host)
            case $positional in
                0) COMPREPLY=($(compgen -W "install check" -- "$cur")) ;;
                1) _vmig_hosts "$cur" ;;
                *) _vmig_hosts "$cur" ;;
            esac
            ;;
        help)
            case $positional in
                0) COMPREPLY=($(compgen -W "define undefine start destroy list dominfo qemu-monitor-command migrate evacuate domjobinfo domjobabort migrate-setspeed migrate-setmaxdowntime completion recover host help" -- "$cur")) ;;
            esac
            ;;
    esac
}

complete -F _vmig vmig
