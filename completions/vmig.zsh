#compdef vmig
# zsh completion for vmig
# Generated from vmig's command definition (npm run completions); do not edit.
# Load with:  source <(vmig completion zsh)
# or install: vmig completion zsh > "${fpath[1]}/_vmig"

# Domain names from the host named on the command line (-c/--connect, --config): one bounded `vmig list`.
_vmig_domains() {
  local -a args names
  local i
  for ((i = 2; i < CURRENT; i++)); do
    case ${words[i]} in
      -c|--connect|--config) args+=(${words[i]} ${words[i+1]}) ;;
      --connect=*|--config=*) args+=(${words[i]}) ;;
    esac
  done
  names=(${(f)"$(timeout 10 ${words[1]} $args list --all --json 2>/dev/null | tr '{' '\n' | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')"})
  _describe -t domains 'domain' names
}

_vmig_hosts() {
  local -a aliases
  aliases=(local ${(f)"$(awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' ~/.ssh/config 2>/dev/null)"})
  _describe -t hosts 'host' aliases
}

_vmig_commands() {
  local -a commands
  commands=(
    'define:define (or update) a domain from a JSON file'
    'undefine:remove the persistent definition of a domain'
    'start:start a defined domain'
    'destroy:stop a running domain at once'
    'list:list running domains'
    'dominfo:show a domain: uuid, state, memory, vcpus, QEMU pid'
    'qemu-monitor-command:send one QMP command to the domain'"'"'s QEMU and print its reply'
    'migrate:live-migrate a running domain from the --connect host to DEST'
    'evacuate:move every running guest off a host onto the --to hosts, in parallel, with a report'
    'domjobinfo:show the migration job of a domain on the --connect host'
    'domjobabort:cancel the migration job of a domain'
    'migrate-setspeed:change the bandwidth cap of a running migration job'
    'migrate-setmaxdowntime:change the longest pause a running migration job may impose at switch-over'
    'completion:print the shell completion script'
    'recover:resolve a guest whose migration was interrupted'
    'host:prepare and check hypervisor hosts'
    'help:display help for a command'
  )
  _describe -t commands 'vmig command' commands
}

_vmig() {
  local curcontext="$curcontext" state line ret=1
  typeset -A opt_args

  _arguments -C \
    '(- *)'{-V,--version}'[print the vmig version]' \
    '(-c --connect)'{-c,--connect}'[host to act on\: local, ssh\://\[user@\]host\[\:port\], a host from ~/.ssh/config or a config alias]:uri:_vmig_hosts' \
    '--config[read this config file after /etc/vmig/config.toml and ~/.config/vmig/config.toml]:file:_files' \
    '--json[machine-readable output on stdout]' \
    '(-q --quiet)'{-q,--quiet}'[print only results and errors]' \
    '(-v --verbose)'{-v,--verbose}'[print phase timings, QEMU parameters and agent logs]' \
    '--no-color[never colour the output]' \
    '--debug[print stack traces of internal errors]' \
    '--accept-new-host-key[record an unknown host'"'"'s SSH key in known_hosts]' \
    '(- *)'{-h,--help}'[display help]' \
    '1: :->command' \
    '*:: :->args' && ret=0

  case $state in
    command) _vmig_commands && ret=0 ;;
    args)
      curcontext="${curcontext%:*:*}:vmig-${words[1]}:"
      case ${words[1]} in
        define)
          _arguments \
            '1:domain definition (JSON):_files -g "*.json"' \
            && ret=0
          ;;
        undefine)
          _arguments \
            '1:domain name:_vmig_domains' \
            && ret=0
          ;;
        start)
          _arguments \
            '--paused[start with the vCPUs stopped]' \
            '1:domain name:_vmig_domains' \
            && ret=0
          ;;
        destroy)
          _arguments \
            '1:domain name:_vmig_domains' \
            && ret=0
          ;;
        list)
          _arguments \
            '--all[include defined domains that are shut off]' \
            && ret=0
          ;;
        dominfo)
          _arguments \
            '1:domain name:_vmig_domains' \
            && ret=0
          ;;
        qemu-monitor-command)
          _arguments \
            '--pretty[indent the JSON reply]' \
            '1:domain name:_vmig_domains' \
            '2:QMP command as JSON, e.g. '"'"'{"execute"\:"query-status"}'"'"': ' \
            && ret=0
          ;;
        migrate)
          _arguments \
            '--transport[auto (default)\: tls if the source reaches the destination, else ssh; tls\: agent to agent, TLS 1.3 with a one-time key; ssh\: relayed over the SSH connections; direct\: plain TCP]:name:(auto direct tls ssh)' \
            '--tunnelled[an encrypted transport chosen automatically]' \
            '--direct[QEMU to QEMU over plain TCP]' \
            '--p2p[ssh transport run from the source host]' \
            '--migrate-uri[tcp\:HOST\[\:PORT\]\: the address (and port) the destination listens on and the source connects to, for this run]:uri: ' \
            '--persistent[define the domain on the destination]' \
            '--undefinesource[remove the definition from the source after success]' \
            '--force-definition[run the source'"'"'s definition although the destination stores a different one of the same name]' \
            '--suspend[leave the guest paused on the destination]' \
            '--bandwidth[cap the stream at this many MiB/s, 0 for no cap]:MiBs: ' \
            '--max-downtime[the longest pause the guest may see at switch-over]:ms: ' \
            '--downtime-steps[start at 1/N of --max-downtime and allow one step more each time the copy stops converging]:n: ' \
            '--stall-timeout[give up when the stream moves no data for this long]:seconds: ' \
            '--auto-converge[throttle the guest vCPUs more and more until the copy converges]' \
            '--auto-converge-initial[first throttle step of --auto-converge, percent]:pct: ' \
            '--auto-converge-increment[each further throttle step of --auto-converge, percent]:pct: ' \
            '--postcopy[enable post-copy]' \
            '--postcopy-after-precopy[switch to post-copy after the first full pass]' \
            '--parallel[send over N parallel connections]:n: ' \
            '--compressed[send re-dirtied pages as deltas]' \
            '--timeout[act (see --timeout-action) when the copy has not finished after this long]:seconds: ' \
            '--timeout-action[at --timeout\: abort (the guest stays on the source), suspend (pause it so the copy finishes), postcopy]:action:(abort suspend postcopy)' \
            '--listen-address[address the destination listens on and advertises to the source]:addr: ' \
            '--port-range[migration ports on the destination]:from-to: ' \
            '--copy-storage-all[copy local disks too]' \
            '--copy-storage-inc[copy only the top qcow2 layer of local disks]' \
            '--migrate-disks[with --copy-storage-*]:targets: ' \
            '--copy-storage-synchronous-writes[with --copy-storage-*]' \
            '--storage-map[with --copy-storage-*]:src=dst: ' \
            '--dry-run[run the Begin and Prepare checks on both hosts, print the plan]' \
            '1:domain name:_vmig_domains' \
            '2:destination host URI:_vmig_hosts' \
            && ret=0
          ;;
        evacuate)
          _arguments \
            '--to[destination hosts, comma-separated]:hosts:_vmig_hosts' \
            '--max-parallel[migrations at once]:n: ' \
            '--headroom[memory kept free on each destination, on top of its host.toml memory_headroom_mib]:MiB: ' \
            '--only[evacuate only guests whose names match these globs]:patterns: ' \
            '--exclude[leave guests whose names match these globs on the source]:patterns: ' \
            '--dry-run[print the plan (guest, destination, why) and change nothing]' \
            '--abort[ask the evacuation running on <source>]' \
            '--transport[auto (default)\: tls if the source reaches the destination, else ssh; tls\: agent to agent, TLS 1.3 with a one-time key; ssh\: relayed over the SSH connections; direct\: plain TCP]:name:(auto direct tls ssh)' \
            '--tunnelled[an encrypted transport chosen automatically]' \
            '--direct[QEMU to QEMU over plain TCP]' \
            '--p2p[ssh transport run from the source host]' \
            '--migrate-uri[tcp\:HOST\[\:PORT\]\: the address (and port) the destination listens on and the source connects to, for this run]:uri: ' \
            '--persistent[define the domain on the destination]' \
            '--undefinesource[remove the definition from the source after success]' \
            '--force-definition[run the source'"'"'s definition although the destination stores a different one of the same name]' \
            '--suspend[leave the guest paused on the destination]' \
            '--bandwidth[cap the stream at this many MiB/s, 0 for no cap]:MiBs: ' \
            '--max-downtime[the longest pause the guest may see at switch-over]:ms: ' \
            '--downtime-steps[start at 1/N of --max-downtime and allow one step more each time the copy stops converging]:n: ' \
            '--stall-timeout[give up when the stream moves no data for this long]:seconds: ' \
            '--auto-converge[throttle the guest vCPUs more and more until the copy converges]' \
            '--auto-converge-initial[first throttle step of --auto-converge, percent]:pct: ' \
            '--auto-converge-increment[each further throttle step of --auto-converge, percent]:pct: ' \
            '--postcopy[enable post-copy]' \
            '--postcopy-after-precopy[switch to post-copy after the first full pass]' \
            '--parallel[send over N parallel connections]:n: ' \
            '--compressed[send re-dirtied pages as deltas]' \
            '--timeout[act (see --timeout-action) when the copy has not finished after this long]:seconds: ' \
            '--timeout-action[at --timeout\: abort (the guest stays on the source), suspend (pause it so the copy finishes), postcopy]:action:(abort suspend postcopy)' \
            '--listen-address[address the destination listens on and advertises to the source]:addr: ' \
            '--port-range[migration ports on the destination]:from-to: ' \
            '--copy-storage-all[copy local disks too]' \
            '--copy-storage-synchronous-writes[with --copy-storage-*]' \
            '--storage-map[with --copy-storage-*]:src=dst: ' \
            '1:host to empty (matched exactly, never as a pattern):_vmig_hosts' \
            && ret=0
          ;;
        domjobinfo)
          _arguments \
            '1:domain name:_vmig_domains' \
            && ret=0
          ;;
        domjobabort)
          _arguments \
            '1:domain name:_vmig_domains' \
            && ret=0
          ;;
        migrate-setspeed)
          _arguments \
            '1:domain name:_vmig_domains' \
            '2:MiB/s; 0 lifts the cap: ' \
            && ret=0
          ;;
        migrate-setmaxdowntime)
          _arguments \
            '1:domain name:_vmig_domains' \
            '2:milliseconds: ' \
            && ret=0
          ;;
        completion)
          _arguments \
            '1:shell:(bash zsh fish)' \
            && ret=0
          ;;
        recover)
          _arguments \
            '--destination[the other host of the migration]:uri:_vmig_hosts' \
            '--dry-run[show what would be done, change nothing]' \
            '--transport[stream for resuming a broken post-copy]:name:(ssh tls direct)' \
            '--p2p[resume a broken post-copy over ssh from the source host itself]' \
            '1:domain name:_vmig_domains' \
            && ret=0
          ;;
        host)
          _arguments \
            '--parallel[hosts at once]:n: ' \
            '--from[also check what a migration from SOURCE to each host can use]:source:_vmig_hosts' \
            '1:subcommand:(install check)' \
            '2:host URIs or names from ~/.ssh/config:_vmig_hosts' \
            '*:host URIs or names from ~/.ssh/config:_vmig_hosts' \
            && ret=0
          ;;
        help)
          _arguments \
            '1:command:_vmig_commands' \
            && ret=0
          ;;
      esac
      ;;
  esac
  return ret
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _vmig "$@"
else
  compdef _vmig vmig
fi
