// Every per-guest migration option, once: flag, config key, value and range, help, default, the side it acts
// on, whether evacuate takes it, where it goes in the migration request and what it sets in QEMU. The commander
// options, the config schema, resolveMigrationOptions, the QEMU settings, completions and the man page's option
// list are all derived from this table (libvirt's qemu_migration_params.c is the model).
//
// To add an option: add one row below (keep `key` the commander attribute of `flag`, e.g. --copy-storage-all ->
// copyStorageAll), name its `into` field in MigrateRequest (controller/migrate.ts) or its `qemu` mapping, and add
// a test in test/unit/options/. A rule between options goes in RULES (options/resolve.ts). Nothing else lists
// options by hand: help, config schema, completions and man/vmig.1 follow (npm run docs regenerates the latter two;
// test/unit/options/drift.test.ts fails until they do).
//
// What is not a row: an option of one command that is no per-guest migration setting (migrate --dry-run,
// evacuate --to); it stays in cli/program.ts. The storage rows (--copy-storage-*, --migrate-disks, --storage-map)
// fill MigrateRequest.storage (`into: 'storage.…'`); their rules are checkStorageFlags (storage/plan.ts).
//
// Zod-free and commander-free: `vmig --help` loads it.
import { DEFAULT_PORT_RANGE, TRANSPORT_REQUESTS } from '../transports/constants.js';

export const TIMEOUT_ACTIONS = ['abort', 'suspend', 'postcopy'] as const;
export type TimeoutAction = (typeof TIMEOUT_ACTIONS)[number];

/** The convergence options once resolved (rows with `into: 'convergence.…'`), as the agents receive them. */
export interface ConvergenceOptions {
  autoConverge?: boolean;
  /** cpu-throttle-initial / cpu-throttle-increment, percent. */
  autoConvergeInitialPct?: number;
  autoConvergeIncrementPct?: number;
  /** Enables post-copy (both sides); the switch happens only on postcopyAfterPrecopy or the postcopy timeout action. */
  postcopy?: boolean;
  postcopyAfterPrecopy?: boolean;
  /** multifd channels; over tls/ssh each is a stream of its own (transports/streams.ts). */
  parallel?: number;
  /** xbzrle: re-sent pages go as deltas. */
  compressed?: boolean;
  timeoutMs?: number;
  timeoutAction?: TimeoutAction;
  /** With --max-downtime: start at a fraction of it and allow more each time the copy stops converging. */
  downtimeSteps?: number;
}

/** Where an option acts: the source agent/QEMU, the destination's, both, or only the controller. */
export type Side = 'source' | 'destination' | 'both' | 'controller';

export type ValueSpec =
  | { kind: 'switch' }
  | { kind: 'int'; min: number; max?: number; unit?: string }
  | { kind: 'choice'; choices: readonly string[] }
  | { kind: 'text' }
  /** FROM-TO on the command line, [from, to] in the config file. */
  | { kind: 'port-range' }
  /** tcp:HOST[:PORT]. */
  | { kind: 'uri' }
  /** Disk targets, comma-separated (vda,vdb), each matching DISK_TARGET_PATTERN. */
  | { kind: 'disk-targets' }
  /** SRC_DIR=DST_DIR, repeatable on the command line; a list of such strings in the config file. */
  | { kind: 'storage-map' };

/** The values an agent sets QEMU from: what travels in `convergence`, the cap, the first downtime limit, disk copies. */
export type QemuInputs = ConvergenceOptions & {
  bandwidthMiBs?: number;
  downtimeLimitMs?: number;
  copiesDisks?: boolean;
};

export interface QemuMapping {
  /** Set on or off explicitly every time: a QEMU that once received a post-copy stream keeps postcopy-ram on. */
  capability?: { name: string; on(inputs: QemuInputs): boolean };
  /** Parameters; a function returning undefined leaves QEMU's value alone. */
  parameters?: Record<string, (inputs: QemuInputs) => unknown>;
}

export interface MigrationOption {
  /** The commander attribute of `flag` (camelCase of the long name). */
  key: string;
  flag: string;
  /** Other flags that set this option to a fixed value (virsh's spellings). */
  aliases?: ReadonlyArray<{ flag: string; value: string; help: string }>;
  help: string;
  value: ValueSpec;
  /** Used when neither the flag nor the config file gives a value. */
  default?: number | string;
  /** The key in config.toml (top level and per [hosts.NAME]); none: command line only. */
  config?: string;
  side: Side;
  /** Whether `vmig evacuate` takes it too (default: yes, every per-guest option). */
  evacuate?: boolean;
  /** The field of the migration request it fills (dotted for `convergence.*` and `storage.*`), scaled by `scale`. */
  into?: string;
  scale?: number;
  qemu?: QemuMapping;
}

/** Post-copy must be enabled (on both sides) before `migrate` for any way of switching to it later. */
export function postcopyEnabled(options: ConvergenceOptions): boolean {
  return (
    options.postcopy === true ||
    options.postcopyAfterPrecopy === true ||
    (options.timeoutMs !== undefined && options.timeoutAction === 'postcopy')
  );
}

const MiB = 1024 * 1024;
/** QEMU takes bytes/s; "no cap" is its maximum. */
export const UNLIMITED_BANDWIDTH = Number.MAX_SAFE_INTEGER;
const multifd = (inputs: QemuInputs) => (inputs.parallel ?? 1) > 1;

export const MIGRATION_OPTIONS: readonly MigrationOption[] = [
  {
    key: 'transport',
    flag: '--transport <name>',
    aliases: [
      {
        flag: '--tunnelled',
        value: 'auto',
        help: 'an encrypted transport chosen automatically (the same as --transport auto)',
      },
      {
        flag: '--direct',
        value: 'direct',
        help: 'QEMU to QEMU over plain TCP: fast but unencrypted and unauthenticated',
      },
    ],
    help: 'auto (default): tls if the source reaches the destination, else ssh; tls: agent to agent, TLS 1.3 with a one-time key; ssh: relayed over the SSH connections; direct: plain TCP',
    value: { kind: 'choice', choices: TRANSPORT_REQUESTS },
    config: 'transport',
    side: 'both',
  },
  {
    key: 'p2p',
    flag: '--p2p',
    help: 'ssh transport run from the source host: it opens SSH to the destination itself (its own ssh config and known_hosts), so the controller carries no byte; needs host-to-host trust',
    value: { kind: 'switch' },
    config: 'p2p',
    side: 'source',
    into: 'p2p',
  },
  {
    key: 'migrateUri',
    flag: '--migrate-uri <uri>',
    help: 'tcp:HOST[:PORT]: the address (and port) the destination listens on and the source connects to, for this run',
    value: { kind: 'uri' },
    side: 'destination',
  },
  {
    key: 'persistent',
    flag: '--persistent',
    help: 'define the domain on the destination',
    value: { kind: 'switch' },
    side: 'destination',
    into: 'persistent',
  },
  {
    key: 'undefinesource',
    flag: '--undefinesource',
    help: 'remove the definition from the source after success',
    value: { kind: 'switch' },
    side: 'source',
    into: 'undefineSource',
  },
  {
    key: 'forceDefinition',
    flag: '--force-definition',
    help: "run the source's definition although the destination stores a different one of the same name (one of another uuid is always refused)",
    value: { kind: 'switch' },
    side: 'destination',
    into: 'forceDefinition',
  },
  {
    key: 'suspend',
    flag: '--suspend',
    help: 'leave the guest paused on the destination',
    value: { kind: 'switch' },
    side: 'destination',
    into: 'suspend',
  },
  {
    key: 'bandwidth',
    flag: '--bandwidth <MiBs>',
    help: 'cap the stream at this many MiB/s, 0 for no cap (caps post-copy too)',
    value: { kind: 'int', min: 0 },
    default: 0,
    config: 'bandwidth_mibs',
    side: 'source',
    into: 'bandwidthMiBs',
    qemu: {
      parameters: {
        'max-bandwidth': ({ bandwidthMiBs = 0 }) => (bandwidthMiBs > 0 ? bandwidthMiBs * MiB : UNLIMITED_BANDWIDTH),
        // QEMU's 0 means no cap here.
        'max-postcopy-bandwidth': ({ bandwidthMiBs = 0 }) => bandwidthMiBs * MiB,
      },
    },
  },
  {
    key: 'maxDowntime',
    flag: '--max-downtime <ms>',
    help: 'the longest pause the guest may see at switch-over',
    value: { kind: 'int', min: 1 },
    config: 'max_downtime_ms',
    side: 'source',
    into: 'maxDowntimeMs',
    qemu: { parameters: { 'downtime-limit': ({ downtimeLimitMs }) => downtimeLimitMs } },
  },
  {
    key: 'downtimeSteps',
    flag: '--downtime-steps <n>',
    help: 'start at 1/N of --max-downtime and allow one step more each time the copy stops converging',
    value: { kind: 'int', min: 2, max: 20, unit: 'steps' },
    config: 'downtime_steps',
    side: 'source',
    into: 'convergence.downtimeSteps',
  },
  {
    key: 'stallTimeout',
    flag: '--stall-timeout <seconds>',
    help: 'give up when the stream moves no data for this long (a dead peer or network)',
    value: { kind: 'int', min: 1 },
    default: 30,
    side: 'source',
    into: 'stallTimeoutMs',
    scale: 1000,
  },
  {
    key: 'autoConverge',
    flag: '--auto-converge',
    help: 'throttle the guest vCPUs more and more until the copy converges',
    value: { kind: 'switch' },
    config: 'auto_converge',
    side: 'source',
    into: 'convergence.autoConverge',
    qemu: { capability: { name: 'auto-converge', on: (inputs) => inputs.autoConverge === true } },
  },
  {
    key: 'autoConvergeInitial',
    flag: '--auto-converge-initial <pct>',
    help: 'first throttle step of --auto-converge, percent (QEMU default 20)',
    value: { kind: 'int', min: 1, max: 99, unit: 'percent' },
    side: 'source',
    into: 'convergence.autoConvergeInitialPct',
    qemu: {
      parameters: {
        'cpu-throttle-initial': (inputs) => (inputs.autoConverge ? inputs.autoConvergeInitialPct : undefined),
      },
    },
  },
  {
    key: 'autoConvergeIncrement',
    flag: '--auto-converge-increment <pct>',
    help: 'each further throttle step of --auto-converge, percent (QEMU default 10)',
    value: { kind: 'int', min: 1, max: 100, unit: 'percent' },
    side: 'source',
    into: 'convergence.autoConvergeIncrementPct',
    qemu: {
      parameters: {
        'cpu-throttle-increment': (inputs) => (inputs.autoConverge ? inputs.autoConvergeIncrementPct : undefined),
      },
    },
  },
  {
    key: 'postcopy',
    flag: '--postcopy',
    help: 'enable post-copy; it starts only with --timeout-action postcopy',
    value: { kind: 'switch' },
    side: 'both',
    into: 'convergence.postcopy',
    qemu: { capability: { name: 'postcopy-ram', on: postcopyEnabled } },
  },
  {
    key: 'postcopyAfterPrecopy',
    flag: '--postcopy-after-precopy',
    help: 'switch to post-copy after the first full pass: the guest resumes on DEST at once and fetches the rest',
    value: { kind: 'switch' },
    config: 'postcopy_after_precopy',
    side: 'both',
    into: 'convergence.postcopyAfterPrecopy',
  },
  {
    key: 'parallel',
    flag: '--parallel <n>',
    help: 'send over N parallel connections (multifd; each its own stream over tls and ssh)',
    value: { kind: 'int', min: 1, max: 64, unit: 'connections' },
    side: 'both',
    into: 'convergence.parallel',
    qemu: {
      capability: { name: 'multifd', on: multifd },
      parameters: { 'multifd-channels': (inputs) => (multifd(inputs) ? inputs.parallel : undefined) },
    },
  },
  {
    key: 'compressed',
    flag: '--compressed',
    help: 'send re-dirtied pages as deltas (xbzrle)',
    value: { kind: 'switch' },
    config: 'compressed',
    side: 'source',
    into: 'convergence.compressed',
    qemu: { capability: { name: 'xbzrle', on: (inputs) => inputs.compressed === true } },
  },
  {
    key: 'timeout',
    flag: '--timeout <seconds>',
    help: 'act (see --timeout-action) when the copy has not finished after this long',
    value: { kind: 'int', min: 1 },
    config: 'timeout_s',
    side: 'source',
    into: 'convergence.timeoutMs',
    scale: 1000,
  },
  {
    key: 'timeoutAction',
    flag: '--timeout-action <action>',
    help: 'at --timeout: abort (the guest stays on the source), suspend (pause it so the copy finishes), postcopy',
    value: { kind: 'choice', choices: TIMEOUT_ACTIONS },
    config: 'timeout_action',
    side: 'source',
    into: 'convergence.timeoutAction',
  },
  {
    key: 'listenAddress',
    flag: '--listen-address <addr>',
    help: 'address the destination listens on and advertises to the source',
    value: { kind: 'text' },
    config: 'migration_address',
    side: 'destination',
  },
  {
    key: 'portRange',
    flag: '--port-range <from-to>',
    help: `migration ports on the destination (default ${DEFAULT_PORT_RANGE.join('-')})`,
    value: { kind: 'port-range' },
    config: 'migration_ports',
    side: 'destination',
  },
  {
    key: 'copyStorageAll',
    flag: '--copy-storage-all',
    help: 'copy local disks too (those marked "shared": false, or every disk when none is marked): NBD + block mirror; evacuate: per guest, a guest on shared storage moves as usual',
    value: { kind: 'switch' },
    config: 'copy_storage_all',
    side: 'both',
    into: 'storage.copyAll',
  },
  {
    key: 'copyStorageInc',
    flag: '--copy-storage-inc',
    help: 'copy only the top qcow2 layer of local disks; the backing files are already on DEST',
    value: { kind: 'switch' },
    config: 'copy_storage_inc',
    side: 'both',
    // Not yet proven end to end for evacuate (every guest's backing chain must be on every destination).
    evacuate: false,
    into: 'storage.copyInc',
  },
  {
    key: 'migrateDisks',
    flag: '--migrate-disks <targets>',
    help: 'with --copy-storage-*: copy just these disks (comma-separated targets, e.g. vda,vdb)',
    value: { kind: 'disk-targets' },
    side: 'source',
    // Targets name one guest's disks; no config key for the same reason.
    evacuate: false,
    into: 'storage.migrateDisks',
  },
  {
    key: 'copyStorageSynchronousWrites',
    flag: '--copy-storage-synchronous-writes',
    help: 'with --copy-storage-*: each guest write completes only once it reached DEST too (for guests that write faster than the copy)',
    value: { kind: 'switch' },
    config: 'copy_storage_synchronous_writes',
    side: 'source',
    into: 'storage.synchronousWrites',
  },
  {
    key: 'storageMap',
    flag: '--storage-map <src=dst>',
    help: 'with --copy-storage-*: create disks under SRC_DIR at DST_DIR on the destination (repeatable)',
    value: { kind: 'storage-map' },
    config: 'storage_map',
    side: 'destination',
    into: 'storage.storageMap',
  },
];

/** The rows a command takes. */
export const optionsOf = (command: 'migrate' | 'evacuate'): MigrationOption[] =>
  MIGRATION_OPTIONS.filter((row) => command === 'migrate' || row.evacuate !== false);

/** The long flag without its value: `--max-downtime <ms>` -> `--max-downtime`. */
export const longFlag = (flag: string): string => flag.split(/[ ,]/)[0]!;
