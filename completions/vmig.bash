# bash completion for vmig                                  -*- shell-script -*-
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
    local global_opts="-c --connect --config --json -q --quiet -v --verbose --no-color --debug --accept-new-host-key -V --version -h --help"
    COMPREPLY=()

    # Options that take a value: complete the value.
    case "$prev" in
        -c | --connect | --destination | --to | --migrate-uri | --from)
            _vmig_hosts "$cur"
            return
            ;;
        --config)
            COMPREPLY=($(compgen -f -- "$cur"))
            return
            ;;
        --transport)
            COMPREPLY=($(compgen -W "auto tls ssh direct" -- "$cur"))
            return
            ;;
        --timeout-action)
            COMPREPLY=($(compgen -W "abort suspend postcopy" -- "$cur"))
            return
            ;;
        --auto-converge-initial | --auto-converge-increment | --parallel | --timeout | --bandwidth | --max-downtime | --downtime-steps | --stall-timeout | --listen-address | --port-range | --max-parallel | --headroom | --only | --exclude | --migrate-disks | --storage-map)
            return
            ;;
    esac

    # The subcommand is the first word that is neither an option nor an option's value; count positionals after it.
    local i cmd="" positional=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -c | --connect | --config | --destination | --to | --from | --transport | --migrate-uri | --auto-converge-initial | --auto-converge-increment | --parallel | --timeout | --timeout-action | --bandwidth | --max-downtime | --downtime-steps | --stall-timeout | --listen-address | --port-range | --max-parallel | --headroom | --only | --exclude | --migrate-disks | --storage-map) ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd="${COMP_WORDS[i]}"; else ((positional++)); fi ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    local opts=""
    case "$cmd" in
        start) opts="--paused" ;;
        list) opts="--all" ;;
        qemu-monitor-command) opts="--pretty" ;;
        migrate) opts="--direct --tunnelled --transport --migrate-uri --persistent --undefinesource --suspend --bandwidth --max-downtime --downtime-steps --stall-timeout --auto-converge --auto-converge-initial --auto-converge-increment --postcopy --postcopy-after-precopy --parallel --compressed --timeout --timeout-action --listen-address --port-range --dry-run --copy-storage-all --copy-storage-inc --migrate-disks --copy-storage-synchronous-writes --storage-map" ;;
        evacuate) opts="--to --max-parallel --headroom --only --exclude --dry-run --abort --direct --tunnelled --transport --persistent --undefinesource --suspend --bandwidth --max-downtime --downtime-steps --stall-timeout --auto-converge --postcopy-after-precopy --timeout --timeout-action --port-range --copy-storage-all --migrate-uri --auto-converge-initial --auto-converge-increment --postcopy --parallel --compressed --listen-address" ;;
        recover) opts="--destination --dry-run --transport" ;;
        host) opts="--from --parallel" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts $global_opts" -- "$cur"))
        return
    fi

    case "$cmd" in
        define) COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur")) ;;
        completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
        help) COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
        evacuate) _vmig_hosts "$cur" ;;
        host)
            if ((positional == 0)); then COMPREPLY=($(compgen -W "install check" -- "$cur")); else _vmig_hosts "$cur"; fi
            ;;
        migrate)
            if ((positional == 0)); then COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")); else _vmig_hosts "$cur"; fi
            ;;
        undefine | start | destroy | dominfo | qemu-monitor-command | domjobinfo | domjobabort | migrate-setspeed | migrate-setmaxdowntime | recover)
            if ((positional == 0)); then COMPREPLY=($(compgen -W "$(_vmig_domains)" -- "$cur")); fi
            ;;
    esac
}

complete -F _vmig vmig
