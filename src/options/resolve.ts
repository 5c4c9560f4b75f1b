// One resolution of the per-guest migration options for `migrate` and `evacuate`: the flag, else the config
// file's entry for the destination, else its top level, else the table's default; then the rules between
// options. Pure and synchronous: bad input is refused before any host is contacted.
import type { VmigConfig } from '../config/schema.js';
import type { MigrateRequest } from '../controller/migrate.js';
import { requestedTransport } from '../controller/transport-choice.js';
import { VmigError } from '../errors.js';
import type { ConvergenceOptions } from '../qemu/convergence.js';
import { checkStorageFlags, copiesStorage, type StorageOptions } from '../storage/plan.js';
import { parseFlag } from './parse.js';
import { MIGRATION_OPTIONS, optionsOf, postcopyEnabled, type MigrationOption } from './table.js';

/** What a guest's migration takes besides the domain, the hosts and the abort signal. */
export type MigrationOptions = Omit<MigrateRequest, 'domain' | 'source' | 'destination' | 'signal'>;

type Values = Record<string, unknown>;

/** The config file's value of every row that has a key, for migrations to `host`: its [hosts.NAME] entry first. */
export function configuredValues(config: VmigConfig | undefined, host: string): Values {
  const entry = (config?.hosts?.[host] ?? {}) as Values;
  const top = (config ?? {}) as Values;
  const values: Values = {};
  for (const row of MIGRATION_OPTIONS) {
    const value = row.config === undefined ? undefined : (entry[row.config] ?? top[row.config]);
    if (value !== undefined) values[row.key] = value;
  }
  return values;
}

interface Rule {
  /** The usage error when the rule is broken, else undefined. */
  check(values: Values, given: Values): string | undefined;
}

/** Rules between options, checked after every value is known (flag or config). */
const RULES: Rule[] = [
  {
    check: (values, given) =>
      values.autoConverge !== true &&
      (given.autoConvergeInitial !== undefined || given.autoConvergeIncrement !== undefined)
        ? '--auto-converge-initial and --auto-converge-increment need --auto-converge'
        : undefined,
  },
  {
    check: (values) =>
      values.timeoutAction !== undefined && values.timeout === undefined
        ? '--timeout-action needs --timeout SECONDS'
        : undefined,
  },
  {
    check: (values) =>
      values.downtimeSteps !== undefined && values.maxDowntime === undefined
        ? '--downtime-steps needs --max-downtime MS, the last step'
        : undefined,
  },
  {
    check: (_, given) =>
      given.migrateUri !== undefined && given.listenAddress !== undefined
        ? '--migrate-uri and --listen-address both name the address: give one'
        : undefined,
  },
  {
    check: (_, given) =>
      (given.migrateUri as { port?: number } | undefined)?.port !== undefined && given.portRange !== undefined
        ? '--migrate-uri with a port and --port-range both name the port: give one'
        : undefined,
  },
];

function resolvedValue(row: MigrationOption, given: Values, configured: Values): unknown {
  // A switch is on when either the flag or the config turns it on (there is no --no-… to turn it off).
  if (row.value.kind === 'switch') return given[row.key] === true || configured[row.key] === true;
  return given[row.key] ?? configured[row.key] ?? row.default;
}

/** The migration options for a guest going to `host` (as the operator typed it: an alias or a URI). */
export function resolveMigrationOptions(
  flags: Record<string, unknown>,
  config: VmigConfig | undefined,
  host: string,
  command: 'migrate' | 'evacuate' = 'migrate',
): MigrationOptions {
  const configured = configuredValues(config, host);
  // A row the command does not take has no flag there, and its config key must not reach that command's guests.
  for (const row of MIGRATION_OPTIONS) if (!optionsOf(command).includes(row)) delete configured[row.key];
  const given: Values = {};
  for (const row of MIGRATION_OPTIONS) {
    const value = parseFlag(row, flags);
    if (value !== undefined) given[row.key] = value;
  }
  // --copy-storage-all and --copy-storage-inc are one choice: either flag replaces the config's choice.
  if (given.copyStorageAll !== undefined || given.copyStorageInc !== undefined) {
    delete configured.copyStorageAll;
    delete configured.copyStorageInc;
  }
  const values: Values = Object.fromEntries(
    MIGRATION_OPTIONS.map((row) => [row.key, resolvedValue(row, given, configured)]),
  );
  // The config's storage settings (a host's storage_map) apply to the runs that copy disks, and only to them.
  if (values.copyStorageAll !== true && values.copyStorageInc !== true) {
    for (const row of MIGRATION_OPTIONS)
      if (row.into?.startsWith('storage.') && given[row.key] === undefined) values[row.key] = undefined;
  }
  // The config's timeout action applies to a timeout from either place, and only to one.
  if (given.timeoutAction === undefined && values.timeout === undefined) values.timeoutAction = undefined;
  for (const rule of RULES) {
    const broken = rule.check(values, given);
    if (broken) throw new VmigError('USAGE', broken);
  }
  // --p2p is the ssh transport run from the source host; alone it picks ssh, with tls or direct it is a contradiction.
  if (given.p2p === true && (flags.direct === true || (flags.transport !== undefined && flags.transport !== 'ssh'))) {
    throw new VmigError(
      'USAGE',
      `--p2p is the ssh transport run from the source host: it contradicts ${flags.direct === true ? '--direct' : `--transport ${String(flags.transport)}`}`,
    );
  }
  if (values.timeout !== undefined) values.timeoutAction ??= 'abort';

  const request: Values = {};
  const nested: Record<'convergence' | 'storage', Values> = { convergence: {}, storage: {} };
  for (const row of MIGRATION_OPTIONS) {
    let value = values[row.key];
    if (row.into === undefined || value === undefined) continue;
    if (row.scale !== undefined) value = (value as number) * row.scale;
    const [group, field] = row.into.split('.') as [string, string | undefined];
    if (field === undefined) request[row.into] = value;
    else if (value !== false) nested[group as keyof typeof nested][field] = value;
  }
  const convergence = nested.convergence as ConvergenceOptions;
  const storage = nested.storage as StorageOptions;
  checkStorageFlags(storage);
  if (copiesStorage(storage) && postcopyEnabled(convergence)) {
    throw new VmigError(
      'USAGE',
      'post-copy cannot be combined with --copy-storage-all/--copy-storage-inc: the disks must be complete before the guest may run on the destination',
    );
  }

  const intent = requestedTransport({
    ...(flags.transport !== undefined
      ? { transport: String(flags.transport) }
      : given.p2p === true && flags.direct !== true && flags.tunnelled !== true
        ? { transport: 'ssh' }
        : {}),
    direct: flags.direct === true,
    tunnelled: flags.tunnelled === true,
    ...(configured.transport !== undefined ? { configured: String(configured.transport) } : {}),
  });
  const uri = given.migrateUri as { host: string; port?: number } | undefined;
  const listenAddress = uri?.host ?? (values.listenAddress as string | undefined);
  const portRange =
    uri?.port !== undefined
      ? ([uri.port, uri.port] as [number, number])
      : (values.portRange as [number, number] | undefined);
  return {
    ...(request as Pick<MigrationOptions, 'persistent' | 'undefineSource' | 'suspend' | 'bandwidthMiBs'>),
    transport: intent.request,
    transportReason: intent.reason,
    convergence,
    ...(copiesStorage(storage) ? { storage } : {}),
    ...(listenAddress ? { listenAddress } : {}),
    ...(portRange ? { portRange } : {}),
  };
}
