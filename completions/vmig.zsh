#compdef vmig
# zsh completion for vmig
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

_vmig() {
  local curcontext="$curcontext" state line ret=1
  typeset -A opt_args
  local -a commands
  commands=(
    'define:define (or update) a domain from a JSON file'
    'undefine:remove the persistent definition of a domain'
    'start:start a defined domain'
    'destroy:stop a running domain at once'
    'list:list running domains (with --all, defined ones too)'
    'dominfo:show a domain'
    'qemu-monitor-command:send one QMP command to the domain'"'"'s QEMU'
    'migrate:live-migrate a running domain to another host'
    'evacuate:move every running guest off a host'
    'domjobinfo:show the migration job of a domain'
    'domjobabort:cancel the migration job of a domain'
    'migrate-setspeed:change the bandwidth cap of a running migration job'
    'migrate-setmaxdowntime:change the max downtime of a running migration job'
    'completion:print the shell completion script'
    'recover:resolve a guest whose migration was interrupted'
    'host:install vmig on hosts, check them (host install, host check)'
    'help:display help for a command'
  )
  local -a transfer
  transfer=(
    '--direct[QEMU to QEMU over plain TCP, unencrypted]'
    '--tunnelled[an encrypted transport chosen automatically]'
    '--transport[transport of the stream]:transport:(auto tls ssh direct)'
    '--persistent[define the domain on the destination]'
    '--undefinesource[remove the definition from the source after success]'
    "--force-definition[run the source's definition over a different stored one]"
    '--suspend[leave the guest paused on the destination]'
    '--bandwidth[cap the stream (MiB/s)]:MiB/s:'
    '--max-downtime[longest pause at switch-over (ms)]:ms:'
    '--port-range[migration ports on the destination]:from-to:'
  )

  _arguments -C \
    '(-c --connect)'{-c,--connect}'[host to act on]:host:_vmig_hosts' \
    '--config[config file]:file:_files' \
    '--json[machine-readable output on stdout]' \
    '(-q --quiet)'{-q,--quiet}'[print only results and errors]' \
    '(-v --verbose)'{-v,--verbose}'[print phase timings, QEMU parameters and agent logs]' \
    '--no-color[never colour the output]' \
    '--debug[print stack traces of internal errors]' \
    '--accept-new-host-key[record an unknown host key in known_hosts]' \
    '(- *)'{-V,--version}'[print the vmig version]' \
    '(- *)'{-h,--help}'[display help]' \
    '1: :->command' \
    '*:: :->args' && ret=0

  case $state in
    command) _describe -t commands 'vmig command' commands && ret=0 ;;
    args)
      curcontext="${curcontext%:*:*}:vmig-${words[1]}:"
      case ${words[1]} in
        define) _arguments '1:domain file:_files -g "*.json"' && ret=0 ;;
        undefine|destroy|dominfo|domjobinfo|domjobabort) _arguments '1:domain:_vmig_domains' && ret=0 ;;
        start) _arguments '--paused[start with the vCPUs stopped]' '1:domain:_vmig_domains' && ret=0 ;;
        list) _arguments '--all[include defined domains that are shut off]' && ret=0 ;;
        qemu-monitor-command) _arguments '--pretty[indent the JSON reply]' '1:domain:_vmig_domains' '2:QMP command (JSON):' && ret=0 ;;
        migrate)
          _arguments $transfer \
            '--migrate-uri[address the source sends the stream to]:uri:' \
            '--p2p[the source host opens SSH to the destination itself]' \
            '--stall-timeout[give up when no data moves for this long (s)]:seconds:' \
            '--auto-converge[throttle the vCPUs until the copy converges]' \
            '--downtime-steps[raise the allowed downtime in N steps]:steps:' \
            '--auto-converge-initial[first throttle step (percent)]:percent:' \
            '--auto-converge-increment[further throttle steps (percent)]:percent:' \
            '--postcopy[enable post-copy]' \
            '--postcopy-after-precopy[switch to post-copy after the first pass]' \
            '--parallel[parallel connections (multifd)]:n:' \
            '--compressed[send re-dirtied pages as deltas (xbzrle)]' \
            '--timeout[act when the copy has not finished after this long (s)]:seconds:' \
            '--timeout-action[what to do at --timeout]:action:(abort suspend postcopy)' \
            '--listen-address[address the destination listens on]:address:' \
            '--dry-run[check both hosts, print the plan, change nothing]' \
            '--copy-storage-all[copy local disks too (NBD + block mirror)]' \
            '--copy-storage-inc[copy only the top qcow2 layer of local disks]' \
            '--migrate-disks[copy just these disks (comma-separated targets)]:targets:' \
            '--copy-storage-synchronous-writes[guest writes complete only once mirrored]' \
            '*--storage-map[create disks under SRC_DIR at DST_DIR]:src=dst:' \
            '1:domain:_vmig_domains' '2:destination:_vmig_hosts' && ret=0
          ;;
        evacuate)
          _arguments $transfer \
            '--to[destination hosts, comma-separated]:hosts:_vmig_hosts' \
            '--max-parallel[migrations at once]:n:' \
            '--headroom[memory kept free on each destination (MiB)]:MiB:' \
            '--only[only guests matching these globs]:patterns:' \
            '--exclude[leave guests matching these globs]:patterns:' \
            '--dry-run[print the plan, change nothing]' \
            '--abort[ask the running evacuation to start no new migrations]' \
            '--copy-storage-all[copy each guest'"'"'s local disks too]' \
            '--stall-timeout[give up when no data moves for this long (s)]:seconds:' \
            '--downtime-steps[raise the allowed downtime in N steps]:steps:' \
            '--auto-converge[throttle the vCPUs until the copy converges]' \
            '--postcopy-after-precopy[switch to post-copy after the first pass]' \
            '--timeout[act when the copy has not finished after this long (s)]:seconds:' \
            '--timeout-action[what to do at --timeout]:action:(abort suspend postcopy)' \
            '1:source host:_vmig_hosts' && ret=0
          ;;
        migrate-setspeed) _arguments '1:domain:_vmig_domains' '2:MiB/s (0 = no cap):' && ret=0 ;;
        migrate-setmaxdowntime) _arguments '1:domain:_vmig_domains' '2:milliseconds:' && ret=0 ;;
        recover)
          _arguments '--destination[the other host of the migration]:host:_vmig_hosts' '--dry-run[show what would be done]' '--transport[stream that resumes a broken post-copy]:transport:(ssh tls direct)' '1:domain:_vmig_domains' && ret=0
          ;;
        host)
          _arguments '--from[also check the path from this source host]:host:_vmig_hosts' '--parallel[hosts at once]:n:' \
            '1:action:((install\:"copy this vmig to the hosts" check\:"validate the hosts"))' '*:host:_vmig_hosts' && ret=0
          ;;
        completion) _arguments '1:shell:(bash zsh fish)' && ret=0 ;;
        help) _describe -t commands 'vmig command' commands && ret=0 ;;
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
