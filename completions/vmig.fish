# fish completion for vmig
# Load with:  vmig completion fish | source
# or install: vmig completion fish > ~/.config/fish/completions/vmig.fish

set -l vmig_commands define undefine start destroy list dominfo qemu-monitor-command migrate evacuate domjobinfo domjobabort migrate-setspeed migrate-setmaxdowntime completion recover host help
set -l domain_commands undefine start destroy dominfo qemu-monitor-command migrate domjobinfo domjobabort migrate-setspeed migrate-setmaxdowntime recover

# Domain names from the host named on the command line (-c/--connect, --config): one bounded `vmig list`.
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
    timeout 10 $tokens[1] $args list --all --json 2>/dev/null | string replace -ra '\{' '\n{' | string match -rg '"name":"([^"]*)"'
end

function __vmig_hosts
    echo local
    awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' ~/.ssh/config 2>/dev/null
end

complete -c vmig -f

# Global options
complete -c vmig -s c -l connect -x -a '(__vmig_hosts)' -d 'host to act on'
complete -c vmig -l config -r -F -d 'config file'
complete -c vmig -l json -d 'machine-readable output on stdout'
complete -c vmig -s q -l quiet -d 'print only results and errors'
complete -c vmig -s v -l verbose -d 'print phase timings, QEMU parameters and agent logs'
complete -c vmig -l no-color -d 'never colour the output'
complete -c vmig -l debug -d 'print stack traces of internal errors'
complete -c vmig -l accept-new-host-key -d 'record an unknown host key in known_hosts'
complete -c vmig -s V -l version -d 'print the vmig version'
complete -c vmig -s h -l help -d 'display help'

# Commands
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a define -d 'define (or update) a domain from a JSON file'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a undefine -d 'remove the persistent definition of a domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a start -d 'start a defined domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a destroy -d 'stop a running domain at once'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a list -d 'list running domains'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a dominfo -d 'show a domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a qemu-monitor-command -d 'send one QMP command to QEMU'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a migrate -d 'live-migrate a running domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a evacuate -d 'move every running guest off a host'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a host -d 'install vmig on hosts, check them'
complete -c vmig -n "__fish_seen_subcommand_from host; and not __fish_seen_subcommand_from install check" -a 'install check'
complete -c vmig -n "__fish_seen_subcommand_from install check" -a '(__vmig_hosts)'
complete -c vmig -n "__fish_seen_subcommand_from check" -l from -x -a '(__vmig_hosts)' -d 'also check the path from this source host'
complete -c vmig -n "__fish_seen_subcommand_from install" -l parallel -x -d 'hosts at once'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a domjobinfo -d 'show the migration job of a domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a domjobabort -d 'cancel the migration job of a domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a migrate-setspeed -d 'change the bandwidth cap of a running job'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a migrate-setmaxdowntime -d 'change the max downtime of a running job'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a completion -d 'print the shell completion script'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a recover -d 'resolve an interrupted migration'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a help -d 'display help for a command'

# Arguments
complete -c vmig -n "__fish_seen_subcommand_from $domain_commands" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from define" -F
complete -c vmig -n "__fish_seen_subcommand_from completion" -a 'bash zsh fish'
complete -c vmig -n "__fish_seen_subcommand_from help" -a "$vmig_commands"
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -a '(__vmig_hosts)'

# Command options
complete -c vmig -n "__fish_seen_subcommand_from start" -l paused -d 'start with the vCPUs stopped'
complete -c vmig -n "__fish_seen_subcommand_from list" -l all -d 'include defined domains that are shut off'
complete -c vmig -n "__fish_seen_subcommand_from qemu-monitor-command" -l pretty -d 'indent the JSON reply'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l direct -d 'QEMU to QEMU over plain TCP, unencrypted'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l tunnelled -d 'an encrypted transport chosen automatically'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l transport -x -a 'auto tls ssh direct' -d 'transport of the stream'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l persistent -d 'define the domain on the destination'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l undefinesource -d 'remove the definition from the source after success'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l force-definition -d "run the source's definition over a different stored one"
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l suspend -d 'leave the guest paused on the destination'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l bandwidth -x -d 'cap the stream (MiB/s)'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l max-downtime -x -d 'longest pause at switch-over (ms)'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l port-range -x -d 'migration ports on the destination'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l migrate-uri -x -d 'address the source sends the stream to'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l p2p -d 'the source host opens SSH to the destination itself'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l stall-timeout -x -d 'give up when no data moves for this long (s)'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l auto-converge -d 'throttle the vCPUs until the copy converges'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l downtime-steps -x -d 'raise the allowed downtime in N steps'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l auto-converge-initial -x -d 'first throttle step (percent)'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l auto-converge-increment -x -d 'further throttle steps (percent)'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l postcopy -d 'enable post-copy'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l postcopy-after-precopy -d 'switch to post-copy after the first pass'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l parallel -x -d 'parallel connections (multifd)'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l compressed -d 'send re-dirtied pages as deltas (xbzrle)'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l timeout -x -d 'act when the copy has not finished after this long (s)'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l timeout-action -x -a 'abort suspend postcopy' -d 'what to do at --timeout'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l listen-address -x -d 'address the destination listens on'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate" -l copy-storage-all -d 'copy local disks too (NBD + block mirror)'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l copy-storage-inc -d 'copy only the top qcow2 layer of local disks'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l migrate-disks -x -d 'copy just these disks (comma-separated targets)'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l copy-storage-synchronous-writes -d 'guest writes complete only once mirrored'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l storage-map -x -d 'create disks under SRC_DIR at DST_DIR'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l to -x -a '(__vmig_hosts)' -d 'destination hosts, comma-separated'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l max-parallel -x -d 'migrations at once'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l headroom -x -d 'memory kept free on each destination (MiB)'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l only -x -d 'only guests matching these globs'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l exclude -x -d 'leave guests matching these globs'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l abort -d 'ask the running evacuation to start no new migrations'
complete -c vmig -n "__fish_seen_subcommand_from migrate evacuate recover" -l dry-run -d 'show what would be done, change nothing'
complete -c vmig -n "__fish_seen_subcommand_from recover" -l destination -x -a '(__vmig_hosts)' -d 'the other host of the migration'
complete -c vmig -n "__fish_seen_subcommand_from recover" -l transport -x -a 'ssh tls direct' -d 'stream that resumes a broken post-copy'
