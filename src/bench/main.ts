// `npm run bench`: on the namespace lab, one guest of incompressible RAM migrated back and forth between two
// hosts with each transport in alternation (A B C A B C …), plus plain QEMU through an OpenSSH -L forward,
// through stunnel, and with QEMU's own TLS as reference rows. Prints a table (stdout) or one JSON document (--json); progress on stderr.
// Not part of the test suite: its figures depend on the machine, and it never fails on a missed target.
import { cpus, loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';
import { Lab, findRepoRoot } from '../lab/lab.js';
import { monitor, guestKernel, startVmigGuest, vmigGuestStatus } from './guest.js';
import { migrateDiskGuest, startDiskGuest, DISK_GUEST_RAM_MIB } from './disk-row.js';
import { renderDiskSummaries, summarizeDisk, type DiskSample } from './disk-stats.js';
import { diskTransports, parseBenchOptions, USAGE, type BenchOptions } from './options.js';
import { ReferenceGuest } from './reference.js';
import {
  looksCapped,
  medianPhases,
  summarize,
  throughputMBps,
  VMIG_TRANSPORTS,
  type BenchTransport,
  type Miss,
  type Sample,
} from './stats.js';
import { pumpLine, renderSummaries } from './table.js';
import { migrateWithVmig } from './vmig-row.js';

const say = (text: string): void => void process.stderr.write(`bench: ${text}\n`);
const other = (host: string): string => (host === 'h1' ? 'h2' : 'h1');
const isVmigTransport = (transport: BenchTransport): boolean =>
  (VMIG_TRANSPORTS as readonly string[]).includes(transport);

function environment() {
  const tool = (argv: string[]) => {
    try {
      return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .split('\n')[0]!
        .trim();
    } catch (error) {
      return (
        String((error as { stderr?: string }).stderr ?? '')
          .split('\n')
          .find((line) => /\d/.test(line))
          ?.trim() ?? 'not installed'
      );
    }
  };
  const cpu = cpus();
  return {
    cpu: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}`,
    aesNi: /\baes\b/.test(tool(['grep', '-m1', '-o', '-w', 'aes', '/proc/cpuinfo'])),
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    node: process.version,
    qemu: tool(['qemu-system-x86_64', '--version']),
    openssh: tool(['ssh', '-V']),
    stunnel: tool(['stunnel', '-version']),
  };
}

const hasTool = (name: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

async function bench(options: BenchOptions) {
  const env = environment();
  const order = options.transports.filter((t) =>
    t === 'openssh' ? hasTool('ssh') : t === 'stunnel' ? hasTool('stunnel') : true,
  );
  const samples: Sample[] = [];
  const misses: Miss[] = [];
  const diskSamples: DiskSample[] = [];
  const diskMisses: Miss[] = [];
  const notes: string[] = [];
  for (const missing of options.transports.filter((t) => !order.includes(t)))
    misses.push({ transport: missing, kind: 'unavailable', reason: 'tool not installed' });
  say(
    `${options.sizeMiB} MiB guest, ${options.rounds} round(s) of ${order.join(', ')}; load average ${env.loadAverage.join(' ')}`,
  );
  const repoRoot = findRepoRoot();
  const lab = await Lab.create({ hosts: ['h1', 'h2'], repoRoot });
  let reference: ReferenceGuest | undefined;
  try {
    const wantsVmig = order.some(isVmigTransport);
    const wantsReference = order.some((t) => !isVmigTransport(t));
    let vmigAt = 'h1';
    if (order.includes('p2p')) {
      // p2p migrates back and forth: each host's own ssh reaches the other.
      await lab.trustSsh('h1', 'h2');
      await lab.trustSsh('h2', 'h1');
    }
    if (wantsVmig) {
      say(`starting the vmig guest on h1 and waiting until it has filled its RAM`);
      await startVmigGuest(lab, vmigAt, options.sizeMiB);
    }
    if (wantsReference) {
      say(`starting the reference guest on h1 (plain QEMU) and waiting until it has filled its RAM`);
      reference = await ReferenceGuest.boot(lab, 'h1', options.sizeMiB, guestKernel(repoRoot));
    }
    // Only one guest runs at a time, so the two never compete for a core: vmig's is paused during reference rows.
    let vmigPaused = false;
    const unavailable = new Set<BenchTransport>();
    for (let round = 1; round <= options.rounds; round++) {
      for (const transport of order) {
        if (unavailable.has(transport)) continue;
        if (isVmigTransport(transport)) {
          if (vmigPaused) await monitor(lab, vmigAt, 'cont');
          vmigPaused = false;
          const to = other(vmigAt);
          say(`round ${round}: vmig migrate ${vmigAt} → ${to} over ${transport}`);
          const outcome = await migrateWithVmig(lab, transport, round, vmigAt, to);
          if ('kind' in outcome) {
            misses.push(outcome);
            if (outcome.moved) vmigAt = to;
            say(`  ${outcome.kind}: ${outcome.reason}`);
            if (outcome.kind === 'unavailable') unavailable.add(transport);
            continue;
          }
          samples.push(outcome);
          vmigAt = to;
          say(
            `  ${throughputMBps(outcome).toFixed(1)} MB/s, wall ${outcome.wallTimeMs} ms, QEMU ${outcome.qemuTotalTimeMs} ms, guest downtime ${outcome.guestDowntimeMs ?? '?'} ms (QEMU ${outcome.qemuDowntimeMs} ms)`,
          );
        } else if (reference) {
          if (wantsVmig && !vmigPaused) await monitor(lab, vmigAt, 'stop');
          vmigPaused = wantsVmig;
          const to = other(reference.host);
          say(`round ${round}: plain QEMU ${reference.host} → ${to} through ${transport}`);
          try {
            const { tunnel, ...sample } = await reference.migrate(
              transport as 'openssh' | 'stunnel' | 'qemu-tls',
              round,
              to,
            );
            samples.push(sample);
            if (!notes.some((note) => note.startsWith(`${transport}:`))) notes.push(`${transport}: ${tunnel}`);
            say(
              `  ${throughputMBps(sample).toFixed(1)} MB/s, guest downtime ${sample.guestDowntimeMs ?? '?'} ms (QEMU ${sample.qemuDowntimeMs} ms); ${tunnel}`,
            );
          } catch (error) {
            misses.push({ transport, kind: 'failed', reason: (error as Error).message });
            say(`  failed: ${(error as Error).message}`);
          }
        }
      }
    }
    if (wantsVmig) {
      if (vmigPaused) await monitor(lab, vmigAt, 'cont');
      const status = await vmigGuestStatus(lab, vmigAt);
      notes.push(`vmig guest after all migrations: ${status.errors} verification errors, ${status.passes} passes`);
    }
    if (options.diskMiB > 0) {
      // The RAM guests are paused (or gone) meanwhile: one guest runs at a time.
      if (wantsVmig) await monitor(lab, vmigAt, 'stop');
      await reference?.destroy().catch(() => undefined);
      reference = undefined;
      await diskRows(lab, options, diskSamples, diskMisses);
    }
  } finally {
    await reference?.destroy().catch(() => undefined);
    await lab.destroy();
  }
  const summaries = summarize(order, samples, misses);
  const bandwidth = samples.find((s) => s.transport === 'direct' && s.maxBandwidthBps !== undefined)?.maxBandwidthBps;
  if (looksCapped(samples))
    notes.push("WARNING: direct ran under QEMU's default 128 MiB/s cap (max-bandwidth was not lifted)");
  else if (bandwidth !== undefined)
    notes.push(`direct is not capped: the source QEMU's max-bandwidth was ${bandwidth} bytes/s`);
  for (const transport of order.filter(isVmigTransport)) {
    const phases = medianPhases(samples, transport);
    if (phases.length)
      notes.push(
        `${transport} phases, median: ${phases.map(([phase, ms]) => `${phase} ${Math.round(ms)} ms`).join(', ')}`,
      );
  }
  for (const summary of summaries) {
    const line = pumpLine(summary);
    if (line) notes.push(line);
  }
  notes.push(
    "overhead = controller wall time (Begin→Confirm) minus QEMU total-time; downtime = destination RESUME minus source STOP (QMP event times), next to QEMU's own figure",
  );
  if (order.some((t) => !isVmigTransport(t)))
    notes.push(
      'reference rows: plain QEMU driven over QMP with an event-driven cont; their RSS and CPU columns are the tunnel processes (ssh / sshd session, stunnel; none for qemu-tls)',
    );
  if (order.some((t) => t.endsWith('-p2')))
    notes.push(
      'tls-p2, ssh-p2: the same transport with --parallel 2 (QEMU multifd: ram + 2 channels, three streams each with its own key)',
    );
  if (order.includes('tls-p4'))
    notes.push('tls-p4: tls with --parallel 4 (ram + 4 multifd channels), for the RSS ≤150 MiB per process target');
  if (order.includes('p2p'))
    notes.push(
      "p2p: ssh with --p2p, one stream: the source host's own ssh to the destination's sshd, held against the OpenSSH -L row; its src / dst columns include that ssh client and the sshd sessions",
    );
  notes.push(
    "CPU s/GiB: user + sys seconds of the source agent, destination agent (each with its streams' pump processes) and controller during the migration (control plane and process start included: direct's row is that fixed part), over GiB moved; peak RSS: the largest single process on each side",
  );
  const disk =
    options.diskMiB > 0
      ? {
          diskMiB: options.diskMiB,
          guestRamMiB: DISK_GUEST_RAM_MIB,
          summaries: summarizeDisk(diskTransports(options), diskSamples, diskMisses),
          samples: diskSamples,
          misses: diskMisses,
        }
      : undefined;
  if (disk)
    notes.push(
      `disk rows: a ${DISK_GUEST_RAM_MIB} MiB guest with a ${options.diskMiB} MiB local raw disk of random data, --copy-storage-all; disk MB/s = bytes mirrored / time until the mirrors were in step, RAM MB/s = QEMU's ram.transferred / total-time of the same migrations`,
    );
  return {
    sizeMiB: options.sizeMiB,
    rounds: options.rounds,
    order,
    environment: env,
    summaries,
    samples,
    misses,
    notes,
    ...(disk ? { disk } : {}),
  };
}

/** The disk rows: the disk guest moved back and forth, each selected transport in alternation per round. */
async function diskRows(lab: Lab, options: BenchOptions, samples: DiskSample[], misses: Miss[]): Promise<void> {
  say(`starting the disk guest on h1 (${options.diskMiB} MiB local disk) and waiting until it has filled its RAM`);
  await startDiskGuest(lab, 'h1', options.diskMiB);
  let at = 'h1';
  for (let round = 1; round <= options.rounds; round++) {
    for (const transport of diskTransports(options)) {
      const to = other(at);
      say(`round ${round}: vmig migrate --copy-storage-all ${at} → ${to} over ${transport}`);
      const outcome = await migrateDiskGuest(lab, transport, round, at, to);
      if ('kind' in outcome) {
        misses.push(outcome);
        if (outcome.moved) at = to;
        say(`  ${outcome.kind}: ${outcome.reason}`);
        continue;
      }
      samples.push(outcome);
      at = to;
      say(
        `  disk ${(outcome.diskBytes / 1e6 / (outcome.diskCopyMs / 1000)).toFixed(1)} MB/s, RAM ${(outcome.ramBytes / 1e6 / (outcome.ramMs / 1000)).toFixed(1)} MB/s, wall ${outcome.wallTimeMs} ms`,
      );
    }
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench: needs root to create the lab's network namespaces\n");
    return 2;
  }
  const report = await bench(options);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const env = report.environment;
  process.stdout.write(
    `vmig benchmark: ${report.sizeMiB} MiB guest of random RAM, ${report.rounds} round(s), transports in alternation\n` +
      `${env.cpu}${env.aesNi ? ' (AES-NI)' : ''}; load average at start ${env.loadAverage.join(' ')}; ${env.qemu}\n\n` +
      `${renderSummaries(report.summaries)}\n\n` +
      (report.disk
        ? `Disk rows: ${report.disk.guestRamMiB} MiB guest, ${report.disk.diskMiB} MiB local disk (--copy-storage-all)\n${renderDiskSummaries(report.disk.summaries)}\n\n`
        : '') +
      report.notes.map((note) => `- ${note}\n`).join(''),
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exitCode = 1;
  },
);
