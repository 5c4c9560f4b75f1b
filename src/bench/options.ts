// `npm run bench -- [--size MiB] [--rounds N] [--json] [--no-reference] [--transports a,b] [--disk MiB]`. Pure parsing.
import { OPT_IN_TRANSPORTS, REFERENCE_TRANSPORTS, VMIG_TRANSPORTS, type BenchTransport } from './stats.js';

export interface BenchOptions {
  /** Guest RAM in MiB. */
  sizeMiB: number;
  rounds: number;
  json: boolean;
  transports: BenchTransport[];
  /** The disk rows: a guest with a local disk of this many MiB, moved with --copy-storage-all (0: none). */
  diskMiB: number;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [--size MiB] [--rounds N] [--transports LIST] [--no-reference] [--disk MiB] [--json]
  --size MiB         guest RAM, filled with incompressible data (default 1024; 256 for a quick run)
  --rounds N         migrations per transport, run in alternation A B C A B C ... (default 3)
  --transports LIST  comma-separated subset of: ${[...VMIG_TRANSPORTS, ...REFERENCE_TRANSPORTS].join(', ')}
                     (default: all but ${OPT_IN_TRANSPORTS.join(', ')})
  --no-reference     skip the reference rows (OpenSSH -L, stunnel, QEMU's own TLS)
  --disk MiB         add the disk rows: a 256 MiB guest with a local disk of MiB (e.g. 1024) moved with
                     --copy-storage-all over direct, tls and ssh (those of --transports); off by default
  --json             one JSON document on stdout instead of the table`;

const ALL: readonly BenchTransport[] = [...VMIG_TRANSPORTS, ...REFERENCE_TRANSPORTS];

function wholeNumber(value: string | undefined, option: string, min: number, max: number): number {
  const number = Number(value);
  if (value === undefined || !Number.isInteger(number) || number < min || number > max)
    throw new Error(`${option} takes a whole number from ${min} to ${max}`);
  return number;
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    sizeMiB: 1024,
    rounds: 3,
    json: false,
    transports: ALL.filter((name) => !OPT_IN_TRANSPORTS.includes(name)),
    diskMiB: 0,
    help: false,
  };
  let reference = true;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--size') options.sizeMiB = wholeNumber(value(), '--size', 16, 16384);
    else if (flag === '--rounds') options.rounds = wholeNumber(value(), '--rounds', 1, 100);
    else if (flag === '--disk') options.diskMiB = wholeNumber(value(), '--disk', 16, 16384);
    else if (flag === '--json') options.json = true;
    else if (flag === '--no-reference') reference = false;
    else if (flag === '--transports') {
      const list = (value() ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      const unknown = list.filter((name) => !ALL.includes(name as BenchTransport));
      if (list.length === 0 || unknown.length)
        throw new Error(`--transports takes a comma-separated list of ${ALL.join(', ')}`);
      options.transports = ALL.filter((name) => list.includes(name));
    } else if (flag === '--help' || flag === '-h') options.help = true;
    else throw new Error(`unknown option ${flag}`);
  }
  if (!reference)
    options.transports = options.transports.filter(
      (name) => !(REFERENCE_TRANSPORTS as readonly string[]).includes(name),
    );
  if (options.transports.length === 0) throw new Error('no transport left to measure');
  if (options.diskMiB > 0 && diskTransports(options).length === 0)
    throw new Error('--disk needs direct, tls or ssh among --transports');
  return options;
}

/** The transports of the disk rows: the plain vmig ones selected (no -p2 variant, no reference). */
export const diskTransports = (options: Pick<BenchOptions, 'transports'>): BenchTransport[] =>
  options.transports.filter((name) => name === 'direct' || name === 'tls' || name === 'ssh');
