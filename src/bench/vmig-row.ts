// One migration of the benchmark guest through the real CLI in the lab, as an operator would run it:
//   vmig -c <from> --json migrate bench <to> --direct | --transport tls|ssh [--parallel 2]
// The figures come from the `result` event of `--json`; a transport the CLI refuses is a Miss, never faked.
import type { Lab } from '../lab/lab.js';
import { isPumpProcess, isVmigProcess, RssSampler, type RssWatch } from './rss.js';
import { roundMs, type BenchTransport, type Miss, type Sample } from './stats.js';

export const GUEST = 'bench';

interface ResultEvent {
  type: 'result';
  status: string;
  totalTimeMs: number;
  qemuTotalTimeMs?: number;
  downtimeMs?: number;
  transferredBytes?: number;
  sourceStopAt?: number;
  destinationResumeAt?: number;
  qemuParameters?: Record<string, unknown>;
  error?: { code: string; message: string };
}

export class NeedsRecoveryError extends Error {}

/** Phase → ms, from the times of consecutive `phase` events up to the `result` event. */
export function phaseDurations(stdout: string): Record<string, number> {
  const events = stdout.split('\n').flatMap((line) => {
    try {
      const event = JSON.parse(line) as { type?: string; phase?: string; time?: string };
      return event.time && (event.type === 'phase' || event.type === 'result')
        ? [{ phase: event.phase, at: Date.parse(event.time) }]
        : [];
    } catch {
      return [];
    }
  });
  const durations: Record<string, number> = {};
  events.forEach((event, index) => {
    const next = events[index + 1];
    if (event.phase && next) durations[event.phase] = (durations[event.phase] ?? 0) + next.at - event.at;
  });
  return durations;
}

function resultEvent(stdout: string): ResultEvent | undefined {
  for (const line of stdout.split('\n').reverse()) {
    try {
      const event = JSON.parse(line) as ResultEvent;
      if (event.type === 'result') return event;
    } catch {
      // not JSON: ignore
    }
  }
  return undefined;
}

const errorLine = (stderr: string): string =>
  stderr
    .split('\n')
    .find((line) => /error/i.test(line))
    ?.replace(/^vmig: error: /, '')
    .replace(/^error: /, '')
    .trim() ||
  stderr.trim().split('\n').at(-1) ||
  'no message';

/** The CLI flags of a bench row: `direct`, `tls`, `ssh-p2` (--parallel 2), `p2p` (ssh from the source host). */
export function vmigTransportArgs(transport: BenchTransport): string[] {
  if (transport === 'p2p') return ['--p2p'];
  const [base, parallel] = transport.split('-p') as [string, string | undefined];
  return [...(base === 'direct' ? ['--direct'] : ['--transport', base]), ...(parallel ? ['--parallel', parallel] : [])];
}

/** `ssh …` (OpenSSH's client, not the `sshd` server). */
const isSshClient = (argv: string[]): boolean => /(^|\/)ssh$/.test(argv[0] ?? '');
/** An sshd session process (`sshd: root@notty` and the like), not the listener. */
const isSshdSession = (argv: string[]): boolean => /^sshd: \S+@/.test(argv.join(' '));

/**
 * What counts on each side: the agents and the controller, each stream's pump (CPU also per pump), and for p2p
 * the source's own ssh client and the destination's sshd session, which carry its streams.
 */
function watches(lab: Lab, transport: BenchTransport, from: string, to: string): RssWatch[] {
  const hosts = [
    { side: 'source' as const, netns: lab.hosts[from]!.ns },
    { side: 'destination' as const, netns: lab.hosts[to]!.ns },
  ];
  return [
    ...hosts.flatMap(({ side, netns }) => [
      { side, netns, match: (argv: string[]) => isVmigProcess(argv, 'agent') },
      { side, netns, match: isPumpProcess, perProcess: 'pump' },
    ]),
    ...(transport === 'p2p'
      ? [
          { side: 'source' as const, netns: lab.hosts[from]!.ns, match: isSshClient },
          { side: 'destination' as const, netns: lab.hosts[to]!.ns, match: isSshdSession },
        ]
      : []),
    { side: 'controller', netns: lab.controllerNs, match: (argv) => isVmigProcess(argv, 'migrate') },
  ];
}

export async function migrateWithVmig(
  lab: Lab,
  transport: BenchTransport,
  round: number,
  from: string,
  to: string,
): Promise<Sample | Miss> {
  const transportArgs = vmigTransportArgs(transport);
  const rss = new RssSampler(watches(lab, transport, from, to));
  await rss.start();
  // --verbose adds the phase timings and the source QEMU's migration parameters to the result event.
  const run = await lab.vmig(['-c', from, '--json', '--verbose', 'migrate', GUEST, to, ...transportArgs], {
    timeoutMs: 600_000,
  });
  const peakRssKiB = await rss.stop();
  const cpuSeconds = rss.cpuSeconds();
  const pumpCpuSeconds = rss.perProcessCpuSeconds('pump');
  const result = resultEvent(run.stdout);
  if (run.exitCode === 2) return { transport, kind: 'unavailable', reason: errorLine(run.stderr) };
  if (run.exitCode === 4)
    throw new NeedsRecoveryError(`vmig migrate over ${transport} needs recovery: ${errorLine(run.stderr)}`);
  if (run.exitCode !== 0 || result?.status !== 'completed') {
    return {
      transport,
      kind: 'failed',
      reason: result?.error?.message ?? `exit ${run.exitCode}: ${errorLine(run.stderr)}`,
    };
  }
  if (!result.transferredBytes || !result.qemuTotalTimeMs) {
    return {
      transport,
      kind: 'failed',
      reason: `the result event lacks QEMU's figures (transferredBytes ${result.transferredBytes}, qemuTotalTimeMs ${result.qemuTotalTimeMs})`,
      moved: true,
    };
  }
  return {
    transport,
    round,
    from,
    to,
    transferredBytes: result.transferredBytes,
    qemuTotalTimeMs: result.qemuTotalTimeMs,
    qemuDowntimeMs: result.downtimeMs ?? 0,
    wallTimeMs: result.totalTimeMs,
    ...(result.sourceStopAt !== undefined && result.destinationResumeAt !== undefined
      ? { guestDowntimeMs: roundMs(result.destinationResumeAt - result.sourceStopAt) }
      : {}),
    peakRssKiB,
    cpuSeconds,
    ...(Object.keys(pumpCpuSeconds).length ? { pumpCpuSeconds } : {}),
    phaseMs: phaseDurations(run.stdout),
    ...(typeof result.qemuParameters?.['max-bandwidth'] === 'number'
      ? { maxBandwidthBps: result.qemuParameters['max-bandwidth'] }
      : {}),
  };
}
