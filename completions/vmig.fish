# fish completion for vmig
# Generated from vmig's command definition (npm run completions); do not edit.
# Load with:  vmig completion fish | source
# or install: vmig completion fish > ~/.config/fish/completions/vmig.fish

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

set -l vmig_commands define undefine start destroy list dominfo qemu-monitor-command migrate evacuate domjobinfo domjobabort migrate-setspeed migrate-setmaxdowntime completion recover host help
complete -c vmig -f

# Global options
complete -c vmig -s V -l version -d 'print the vmig version'
complete -c vmig -s c -l connect -x -a '(__vmig_hosts)' -d 'host to act on: local, ssh://[user@]host[:port], a host from ~/.ssh/config or a config alias'
complete -c vmig -l config -r -F -d 'read this config file after /etc/vmig/config.toml and ~/.config/vmig/config.toml'
complete -c vmig -l json -d 'machine-readable output on stdout'
complete -c vmig -s q -l quiet -d 'print only results and errors'
complete -c vmig -s v -l verbose -d 'print phase timings, QEMU parameters and agent logs'
complete -c vmig -l no-color -d 'never colour the output'
complete -c vmig -l debug -d 'print stack traces of internal errors'
complete -c vmig -l accept-new-host-key -d 'record an unknown host\'s SSH key in known_hosts'
complete -c vmig -s h -l help -d 'display help'

# Commands
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a define -d 'define (or update) a domain from a JSON file'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a undefine -d 'remove the persistent definition of a domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a start -d 'start a defined domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a destroy -d 'stop a running domain at once'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a list -d 'list running domains'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a dominfo -d 'show a domain: uuid, state, memory, vcpus, QEMU pid'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a qemu-monitor-command -d 'send one QMP command to the domain\'s QEMU and print its reply'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a migrate -d 'live-migrate a running domain from the --connect host to DEST'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a evacuate -d 'move every running guest off a host onto the --to hosts, in parallel, with a report'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a domjobinfo -d 'show the migration job of a domain on the --connect host'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a domjobabort -d 'cancel the migration job of a domain'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a migrate-setspeed -d 'change the bandwidth cap of a running migration job'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a migrate-setmaxdowntime -d 'change the longest pause a running migration job may impose at switch-over'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a completion -d 'print the shell completion script'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a recover -d 'resolve a guest whose migration was interrupted'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a host -d 'prepare and check hypervisor hosts'
complete -c vmig -n "not __fish_seen_subcommand_from $vmig_commands" -a help -d 'display help for a command'

# Arguments (fish cannot tell positions apart: each kind the command takes is offered)
complete -c vmig -n "__fish_seen_subcommand_from define" -F
complete -c vmig -n "__fish_seen_subcommand_from undefine" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from start" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from destroy" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from dominfo" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from qemu-monitor-command" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -a '(__vmig_hosts)'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -a '(__vmig_hosts)'
complete -c vmig -n "__fish_seen_subcommand_from domjobinfo" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from domjobabort" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from migrate-setspeed" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from migrate-setmaxdowntime" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from completion" -a 'bash zsh fish'
complete -c vmig -n "__fish_seen_subcommand_from recover" -a '(__vmig_domains)'
complete -c vmig -n "__fish_seen_subcommand_from host" -a 'install check'
complete -c vmig -n "__fish_seen_subcommand_from host" -a '(__vmig_hosts)'
complete -c vmig -n "__fish_seen_subcommand_from help" -a "$vmig_commands"

# Command options
complete -c vmig -n "__fish_seen_subcommand_from start" -l paused -d 'start with the vCPUs stopped'
complete -c vmig -n "__fish_seen_subcommand_from list" -l all -d 'include defined domains that are shut off'
complete -c vmig -n "__fish_seen_subcommand_from qemu-monitor-command" -l pretty -d 'indent the JSON reply'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l transport -x -a 'auto direct tls ssh' -d 'auto (default): tls if the source reaches the destination, else ssh; tls: agent to agent, TLS 1.3 with a one-time key; ssh: relayed over the SSH connections; direct: plain TCP'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l tunnelled -d 'an encrypted transport chosen automatically'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l direct -d 'QEMU to QEMU over plain TCP'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l p2p -d 'ssh transport run from the source host'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l migrate-uri -x -d 'tcp:HOST[:PORT]: the address (and port) the destination listens on and the source connects to, for this run'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l persistent -d 'define the domain on the destination'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l undefinesource -d 'remove the definition from the source after success'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l force-definition -d 'run the source\'s definition although the destination stores a different one of the same name'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l suspend -d 'leave the guest paused on the destination'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l bandwidth -x -d 'cap the stream at this many MiB/s, 0 for no cap'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l max-downtime -x -d 'the longest pause the guest may see at switch-over'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l downtime-steps -x -d 'start at 1/N of --max-downtime and allow one step more each time the copy stops converging'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l stall-timeout -x -d 'give up when the stream moves no data for this long'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l auto-converge -d 'throttle the guest vCPUs more and more until the copy converges'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l auto-converge-initial -x -d 'first throttle step of --auto-converge, percent'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l auto-converge-increment -x -d 'each further throttle step of --auto-converge, percent'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l postcopy -d 'enable post-copy'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l postcopy-after-precopy -d 'switch to post-copy after the first full pass'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l parallel -x -d 'send over N parallel connections'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l compressed -d 'send re-dirtied pages as deltas'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l timeout -x -d 'act (see --timeout-action) when the copy has not finished after this long'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l timeout-action -x -a 'abort suspend postcopy' -d 'at --timeout: abort (the guest stays on the source), suspend (pause it so the copy finishes), postcopy'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l listen-address -x -d 'address the destination listens on and advertises to the source'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l port-range -x -d 'migration ports on the destination'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l copy-storage-all -d 'copy local disks too'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l copy-storage-inc -d 'copy only the top qcow2 layer of local disks'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l migrate-disks -x -d 'with --copy-storage-*'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l copy-storage-synchronous-writes -d 'with --copy-storage-*'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l storage-map -x -d 'with --copy-storage-*'
complete -c vmig -n "__fish_seen_subcommand_from migrate" -l dry-run -d 'run the Begin and Prepare checks on both hosts, print the plan'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l to -x -a '(__vmig_hosts)' -d 'destination hosts, comma-separated'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l max-parallel -x -d 'migrations at once'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l headroom -x -d 'memory kept free on each destination, on top of its host.toml memory_headroom_mib'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l only -x -d 'evacuate only guests whose names match these globs'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l exclude -x -d 'leave guests whose names match these globs on the source'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l dry-run -d 'print the plan (guest, destination, why) and change nothing'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l abort -d 'ask the evacuation running on <source>'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l transport -x -a 'auto direct tls ssh' -d 'auto (default): tls if the source reaches the destination, else ssh; tls: agent to agent, TLS 1.3 with a one-time key; ssh: relayed over the SSH connections; direct: plain TCP'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l tunnelled -d 'an encrypted transport chosen automatically'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l direct -d 'QEMU to QEMU over plain TCP'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l p2p -d 'ssh transport run from the source host'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l migrate-uri -x -d 'tcp:HOST[:PORT]: the address (and port) the destination listens on and the source connects to, for this run'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l persistent -d 'define the domain on the destination'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l undefinesource -d 'remove the definition from the source after success'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l force-definition -d 'run the source\'s definition although the destination stores a different one of the same name'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l suspend -d 'leave the guest paused on the destination'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l bandwidth -x -d 'cap the stream at this many MiB/s, 0 for no cap'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l max-downtime -x -d 'the longest pause the guest may see at switch-over'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l downtime-steps -x -d 'start at 1/N of --max-downtime and allow one step more each time the copy stops converging'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l stall-timeout -x -d 'give up when the stream moves no data for this long'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l auto-converge -d 'throttle the guest vCPUs more and more until the copy converges'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l auto-converge-initial -x -d 'first throttle step of --auto-converge, percent'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l auto-converge-increment -x -d 'each further throttle step of --auto-converge, percent'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l postcopy -d 'enable post-copy'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l postcopy-after-precopy -d 'switch to post-copy after the first full pass'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l parallel -x -d 'send over N parallel connections'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l compressed -d 'send re-dirtied pages as deltas'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l timeout -x -d 'act (see --timeout-action) when the copy has not finished after this long'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l timeout-action -x -a 'abort suspend postcopy' -d 'at --timeout: abort (the guest stays on the source), suspend (pause it so the copy finishes), postcopy'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l listen-address -x -d 'address the destination listens on and advertises to the source'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l port-range -x -d 'migration ports on the destination'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l copy-storage-all -d 'copy local disks too'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l copy-storage-synchronous-writes -d 'with --copy-storage-*'
complete -c vmig -n "__fish_seen_subcommand_from evacuate" -l storage-map -x -d 'with --copy-storage-*'
complete -c vmig -n "__fish_seen_subcommand_from recover" -l destination -x -a '(__vmig_hosts)' -d 'the other host of the migration'
complete -c vmig -n "__fish_seen_subcommand_from recover" -l dry-run -d 'show what would be done, change nothing'
complete -c vmig -n "__fish_seen_subcommand_from recover" -l transport -x -a 'ssh tls direct' -d 'stream for resuming a broken post-copy'
complete -c vmig -n "__fish_seen_subcommand_from recover" -l p2p -d 'resume a broken post-copy over ssh from the source host itself'
complete -c vmig -n "__fish_seen_subcommand_from host" -l parallel -x -d 'hosts at once'
complete -c vmig -n "__fish_seen_subcommand_from host" -l from -x -a '(__vmig_hosts)' -d 'also check what a migration from SOURCE to each host can use'
