// `npm run bench:startup` (also the first step of `npm run bench`): what `vmig --version` costs against a bare
// `node -e 0`, run in turn (A B A B …) so that drift hits both alike; the median of the per-pair ratios is
// the figure (target ≤ 1.2). A bounded loop: at most RUNS pairs and 60 s. Never part of the test suite.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { findRepoRoot } from '../lab/repo.js';

const RUNS = Number(process.env.VMIG_BENCH_STARTUP_RUNS ?? 30);
const BUDGET_MS = 60_000;

function timed(command: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export function benchStartup(): { pairs: number; vmigMs: number; nodeMs: number; ratio: number } {
  const vmig = join(findRepoRoot(), 'bin', 'vmig');
  timed(vmig, ['--version']); // warm the page cache
  timed('node', ['-e', '0']);
  const a: number[] = [];
  const b: number[] = [];
  const deadline = Date.now() + BUDGET_MS;
  for (let run = 0; run < RUNS && Date.now() < deadline; run++) {
    a.push(timed(vmig, ['--version']));
    b.push(timed('node', ['-e', '0']));
  }
  return { pairs: a.length, vmigMs: median(a), nodeMs: median(b), ratio: median(a.map((value, i) => value / b[i]!)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = benchStartup();
  const round = (value: number) => Math.round(value * 100) / 100;
  if (process.argv.includes('--json'))
    process.stdout.write(`${JSON.stringify({ type: 'startup', ...figures, ratio: round(figures.ratio) })}\n`);
  // On stderr: `npm run bench -- --json` keeps its stdout for the main bench's one JSON document.
  else
    process.stderr.write(
      `bench: vmig --version: ${round(figures.vmigMs)} ms, node -e 0: ${round(figures.nodeMs)} ms (medians of ${figures.pairs} alternating runs); ratio ${round(figures.ratio)} (target <= 1.2)\n`,
    );
}
