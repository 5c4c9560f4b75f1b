import { describe, expect, it } from 'vitest';
import { parseBenchOptions } from '../../../src/bench/options.js';
import {
  looksCapped,
  median,
  medianPhases,
  pumpCpuPerGiB,
  summarize,
  throughputMBps,
  type Sample,
} from '../../../src/bench/stats.js';
import { isPumpProcess, isVmigProcess } from '../../../src/bench/rss.js';
import { phaseDurations, vmigTransportArgs } from '../../../src/bench/vmig-row.js';
import { pumpLine, renderSummaries, renderTable } from '../../../src/bench/table.js';

const sample = (transport: Sample['transport'], mbps: number, extra: Partial<Sample> = {}): Sample => ({
  transport,
  round: 1,
  from: 'h1',
  to: 'h2',
  transferredBytes: mbps * 1e6 * 4,
  qemuTotalTimeMs: 4000,
  qemuDowntimeMs: 20,
  wallTimeMs: 4300,
  guestDowntimeMs: 60,
  peakRssKiB: { source: 80 * 1024, destination: 70 * 1024, controller: 90 * 1024 },
  ...extra,
});

describe('bench statistics', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([])).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('computes MB/s from QEMU bytes and total-time', () => {
    expect(throughputMBps({ transferredBytes: 1_000_000_000, qemuTotalTimeMs: 4000 })).toBe(250);
    expect(throughputMBps({ transferredBytes: 5, qemuTotalTimeMs: 0 })).toBe(0);
  });

  it('summarizes per transport against direct and checks the targets', () => {
    const samples = [
      sample('direct', 300),
      sample('direct', 280),
      sample('direct', 290),
      sample('tls', 250, { wallTimeMs: 5500 }),
      sample('tls', 270),
      sample('tls', 260),
      sample('openssh', 200, { peakRssKiB: { source: 400 * 1024 } }),
    ];
    const [direct, tls, ssh, openssh] = summarize(['direct', 'tls', 'ssh', 'openssh'], samples, [
      { transport: 'ssh', kind: 'unavailable', reason: "unknown option '--transport'" },
    ]);
    expect(direct).toMatchObject({ runs: 3, medianMBps: 290, ratioToDirect: 1, overheadMs: 300, addedDowntimeMs: 40 });
    expect(direct!.targets).toEqual({ 'overhead ≤1000 ms': true, 'downtime +≤50 ms': true, 'RSS ≤150 MiB': true });
    expect(tls!.ratioToDirect).toBeCloseTo(260 / 290);
    expect(tls!.targets['≥0.6× direct']).toBe(true);
    expect(tls!.peakRssMiB).toEqual({ source: 80, destination: 70, controller: 90 });
    expect(ssh).toMatchObject({ runs: 0, missing: "unavailable (unknown option '--transport')" });
    expect(openssh).toMatchObject({ reference: true, targets: {} });
  });

  it('spots the default QEMU bandwidth cap', () => {
    expect(looksCapped([sample('direct', 134)])).toBe(true);
    expect(looksCapped([sample('direct', 290)])).toBe(false);
    expect(looksCapped([])).toBe(false);
    // The reported parameter wins over the throughput guess.
    expect(looksCapped([sample('direct', 134, { maxBandwidthBps: Number.MAX_SAFE_INTEGER })])).toBe(false);
    expect(looksCapped([sample('direct', 90, { maxBandwidthBps: 128 * 1024 * 1024 })])).toBe(true);
  });
});

describe('bench table', () => {
  it('aligns columns and lets a missing row run on', () => {
    expect(
      renderTable(
        ['a', 'bb', 'c'],
        [
          ['xyz', '1', '2'],
          ['q', 'unavailable (x)'],
        ],
      ),
    ).toBe('a    bb  c\n---  --  -\nxyz  1   2\nq    unavailable (x)');
  });

  it('renders a summary line per transport', () => {
    const gib = 1024 ** 3;
    const text = renderSummaries(
      summarize(
        ['direct', 'ssh'],
        [sample('direct', 300, { transferredBytes: 2 * gib, cpuSeconds: { source: 1, destination: 3 } })],
        [],
      ),
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^transport\s+runs\s+MB\/s/);
    expect(lines[2]).toMatch(
      /^direct\s+1\s+\d+\.\d\s+1\.00\s+\d+ ms\s+60 ms \/ 20 ms\s+80 \/ 70 \/ 90\s+0\.50 \/ 1\.50 \/ -\s+all met$/,
    );
    expect(lines[3]).toMatch(/^ssh\s+0\s+not run$/);
  });
});

describe('bench options', () => {
  it('has defaults and takes a quick-run size', () => {
    expect(parseBenchOptions([])).toMatchObject({
      sizeMiB: 1024,
      rounds: 3,
      json: false,
      transports: ['direct', 'tls', 'ssh', 'tls-p2', 'ssh-p2', 'p2p', 'openssh', 'stunnel', 'qemu-tls'],
    });
    expect(parseBenchOptions(['--size', '256', '--rounds=1', '--json', '--no-reference'])).toMatchObject({
      sizeMiB: 256,
      rounds: 1,
      json: true,
      transports: ['direct', 'tls', 'ssh', 'tls-p2', 'ssh-p2', 'p2p'],
    });
    expect(parseBenchOptions(['--transports', 'stunnel,direct']).transports).toEqual(['direct', 'stunnel']);
    // tls-p4 is opt-in: only when named.
    expect(parseBenchOptions(['--transports', 'tls-p4,p2p,openssh']).transports).toEqual(['tls-p4', 'p2p', 'openssh']);
  });

  it('refuses bad input', () => {
    expect(() => parseBenchOptions(['--size', 'big'])).toThrow(/--size/);
    expect(() => parseBenchOptions(['--transports', 'carrier-pigeon'])).toThrow(/--transports/);
    expect(() => parseBenchOptions(['--frobnicate'])).toThrow(/unknown option/);
  });
});

describe('bench phases', () => {
  it('takes per-phase medians in order', () => {
    const samples = [10, 30, 20].map((ms) => sample('direct', 300, { phaseMs: { begin: ms, perform: 10 * ms } }));
    expect(medianPhases(samples, 'direct')).toEqual([
      ['begin', 20],
      ['perform', 200],
    ]);
  });

  it('derives phase durations from --json events', () => {
    const stdout = [
      { type: 'start', time: '2024-01-01T00:00:00.000Z' },
      { type: 'phase', phase: 'begin', time: '2024-01-01T00:00:00.100Z' },
      { type: 'progress', time: '2024-01-01T00:00:00.150Z' },
      { type: 'phase', phase: 'perform', time: '2024-01-01T00:00:00.300Z' },
      { type: 'result', time: '2024-01-01T00:00:01.300Z' },
    ]
      .map((event) => JSON.stringify(event))
      .join('\n');
    expect(phaseDurations(`${stdout}\nnot json`)).toEqual({ begin: 200, perform: 1000 });
  });
});

describe('bench rows', () => {
  it('turns a row name into the CLI flags', () => {
    expect(vmigTransportArgs('direct')).toEqual(['--direct']);
    expect(vmigTransportArgs('tls')).toEqual(['--transport', 'tls']);
    expect(vmigTransportArgs('tls-p4')).toEqual(['--transport', 'tls', '--parallel', '4']);
    expect(vmigTransportArgs('ssh-p2')).toEqual(['--transport', 'ssh', '--parallel', '2']);
    expect(vmigTransportArgs('p2p')).toEqual(['--p2p']);
  });

  it('tells pump processes from agents by their command line', () => {
    const pump = ['/usr/bin/node', '/repo/dist/transports/pump-process.js'];
    const agent = ['/usr/bin/node', '/repo/bin/vmig', 'agent', '--stdio'];
    expect(isPumpProcess(pump)).toBe(true);
    expect(isPumpProcess(['/usr/bin/node', '--max-old-space-size=64', ...pump.slice(1)])).toBe(true);
    expect(isPumpProcess(agent)).toBe(false);
    expect(isPumpProcess(['cat', '/repo/dist/transports/pump-process.js'])).toBe(false);
    expect(isVmigProcess(pump, 'agent')).toBe(false);
    expect(isVmigProcess(agent, 'agent')).toBe(true);
  });
});

describe('bench pump accounting', () => {
  const gib = 1024 ** 3;

  it('takes the busiest pump and the sum per side, as medians over runs', () => {
    const samples = [
      sample('tls-p4', 300, { transferredBytes: gib, pumpCpuSeconds: { source: [0.2, 0.1, 0.1], destination: [0.3] } }),
      sample('tls-p4', 300, { transferredBytes: 2 * gib, pumpCpuSeconds: { source: [0.8, 0.4, 0.4] } }),
      sample('tls-p4', 300, { transferredBytes: gib, pumpCpuSeconds: { source: [0.6, 0.2] } }),
      sample('tls-p4', 300, { transferredBytes: gib }),
    ];
    const pumps = pumpCpuPerGiB(samples);
    expect(pumps.source!.max).toBeCloseTo(0.4); // of 0.2, 0.4, 0.6
    expect(pumps.source!.sum).toBeCloseTo(0.8); // of 0.4, 0.8, 0.8
    expect(pumps.source!.pumps).toBe(3);
    expect(pumps.destination).toEqual({ max: 0.3, sum: 0.3, pumps: 1 });
    expect(pumps.controller).toBeUndefined();
    expect(pumpCpuPerGiB([sample('direct', 300)])).toEqual({});
  });

  it('prints per-stream CPU for rows with pumps only', () => {
    const [tls, direct] = summarize(
      ['tls-p4', 'direct'],
      [
        sample('tls-p4', 300, {
          transferredBytes: gib,
          pumpCpuSeconds: { source: [0.31, 0.2, 0.2, 0.2, 0.11], destination: [0.29] },
        }),
        sample('direct', 300),
      ],
      [],
    );
    expect(pumpLine(tls!)).toBe(
      'tls-p4 per stream CPU s/GiB: src max 0.31, sum 1.02 (5 pumps); dst max 0.29, sum 0.29 (1 pump)',
    );
    expect(pumpLine(direct!)).toBeUndefined();
  });

  it('checks RSS per process against the target and p2p against the OpenSSH -L row', () => {
    const [p4, p2p] = summarize(
      ['tls-p4', 'p2p', 'openssh'],
      [
        sample('tls-p4', 300, { peakRssKiB: { source: 151 * 1024, destination: 60 * 1024 } }),
        sample('p2p', 210),
        sample('openssh', 200),
      ],
      [],
    );
    expect(p4!.targets['RSS ≤150 MiB']).toBe(false);
    expect(p2p!.ratioToReference).toBeCloseTo(1.05);
    expect(p2p!.targets['≥ openssh']).toBe(true);
    const [slow] = summarize(['p2p', 'openssh'], [sample('p2p', 150), sample('openssh', 200)], []);
    expect(slow!.targets['≥ openssh']).toBe(false);
    const [alone] = summarize(['p2p'], [sample('p2p', 150)], []);
    expect(alone!.targets['≥ openssh']).toBeUndefined();
  });
});
