// Peak RSS and CPU time of the processes of one migration, per side. Samples /proc every 100 ms and keeps each
// watched process's VmHWM (the kernel's own high-water mark, so a spike between two samples is not missed while
// the process lives) and its user + sys time. Processes are told apart by their network namespace: each lab
// host has its own.
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import type { Side } from './stats.js';

export interface RssWatch {
  side: Side;
  /** The lab namespace's name (under /run/netns). */
  netns: string;
  /** Decides on the NUL-split command line whether a process belongs to this side. */
  match: (argv: string[]) => boolean;
  /** Also keep each matching process's own CPU seconds under this name (e.g. one pump per stream). */
  perProcess?: string;
}

/** A `node [flags] …/bin/vmig …` process (not the `ip netns exec` wrapper that becomes one). */
export const isVmigProcess = (argv: string[], subcommand?: string): boolean => {
  const script = argv.findIndex((arg) => /\/bin\/vmig$/.test(arg));
  return (
    /(^|\/)node$/.test(argv[0] ?? '') &&
    script > 0 &&
    argv.slice(1, script).every((arg) => arg.startsWith('-')) &&
    (subcommand === undefined || argv.includes(subcommand))
  );
};

/** A stream's pump: `node [flags] …/dist/transports/pump-process.js`, forked by an agent (transports/pumps.ts). */
export const isPumpProcess = (argv: string[]): boolean =>
  /(^|\/)node$/.test(argv[0] ?? '') && argv.some((arg) => /(^|\/)dist\/transports\/pump-process\.js$/.test(arg));

async function readKiB(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // exited between readdir and read
  }
}

const CLOCK_TICKS = 100;

/** user + sys seconds of a process (all its threads), from /proc/<pid>/stat. */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

export class RssSampler {
  private readonly peaks = new Map<Side, number>();
  /** pid → side, CPU seconds when first seen (0 for a process that started after the sampler), latest. */
  private readonly cpu = new Map<number, { side: Side; first: number; last: number; perProcess?: string }>();
  private firstSample = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private inodes = new Map<string, RssWatch[]>();

  constructor(
    private readonly watches: RssWatch[],
    private readonly intervalMs = 100,
  ) {}

  async start(): Promise<void> {
    for (const watch of this.watches) {
      const key = `net:[${(await stat(`/run/netns/${watch.netns}`)).ino}]`;
      this.inodes.set(key, [...(this.inodes.get(key) ?? []), watch]);
    }
    const tick = () => {
      this.running = this.sample().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Takes a last sample and returns each side's highest VmHWM in KiB. */
  async stop(): Promise<Partial<Record<Side, number>>> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await this.sample();
    return Object.fromEntries(this.peaks);
  }

  /** CPU seconds each side spent while sampled (a process that exited between two samples loses its last 100 ms). */
  cpuSeconds(): Partial<Record<Side, number>> {
    const totals: Partial<Record<Side, number>> = {};
    for (const { side, first, last } of this.cpu.values()) totals[side] = (totals[side] ?? 0) + (last - first);
    return totals;
  }

  /** CPU seconds of each process watched with `perProcess: name`, per side (one entry per process). */
  perProcessCpuSeconds(name: string): Partial<Record<Side, number[]>> {
    const each: Partial<Record<Side, number[]>> = {};
    for (const { side, first, last, perProcess } of this.cpu.values())
      if (perProcess === name) each[side] = [...(each[side] ?? []), last - first];
    return each;
  }

  private async sample(): Promise<void> {
    const first = this.firstSample;
    this.firstSample = false;
    const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
    await Promise.all(
      pids.map(async (pid) => {
        let watches: RssWatch[] | undefined;
        let argv: string[];
        try {
          watches = this.inodes.get(await readlink(`/proc/${pid}/ns/net`));
          if (!watches) return;
          argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
        } catch {
          return;
        }
        for (const watch of watches.filter((w) => w.match(argv))) {
          const kib = (await readKiB(pid, 'VmHWM')) ?? (await readKiB(pid, 'VmRSS'));
          if (kib !== undefined) this.peaks.set(watch.side, Math.max(this.peaks.get(watch.side) ?? 0, kib));
          const seconds = await cpuSeconds(pid);
          if (seconds === undefined) continue;
          const seen = this.cpu.get(pid);
          if (seen) seen.last = seconds;
          else
            this.cpu.set(pid, {
              side: watch.side,
              first: first ? seconds : 0,
              last: seconds,
              ...(watch.perProcess ? { perProcess: watch.perProcess } : {}),
            });
        }
      }),
    );
  }
}
