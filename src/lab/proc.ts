/**
 * Small child-process helpers for the lab. We use node:child_process directly
 * (not execa) because the lab needs exact control over pids and signals: a
 * test signals a running `vmig` mid-migration and then inspects what it left.
 *
 * `run()` never throws on a non-zero exit or a spawn failure: callers (tests)
 * want to assert on exit codes and stderr. `runOk()` is the throwing variant
 * used by lab setup, where any failure is a bug in the environment.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export interface RunResult {
  exitCode: number; // 128+signo when killed by a signal (shell convention); 127 if spawn failed
  stdout: string;
  stderr: string;
  signal?: NodeJS.Signals | null;
  timedOut?: boolean;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv; // complete environment (not merged here)
  timeoutMs?: number; // SIGKILL after this long; result has timedOut=true
  input?: string; // written to stdin, then stdin is closed
  cwd?: string;
}

export interface WaitLineOptions {
  stream?: 'stdout' | 'stderr' | 'any';
  timeoutMs?: number; // default 30 s
}

export interface ProcHandle {
  readonly pid: number;
  /** Output captured so far. */
  readonly stdout: string;
  readonly stderr: string;
  readonly exited: boolean;
  kill(signal?: NodeJS.Signals): boolean;
  wait(): Promise<RunResult>;
  /** Resolves with the first complete line (already printed or future) matching `re`. */
  waitForLine(re: RegExp, opts?: WaitLineOptions): Promise<string>;
}

type Stream = 'stdout' | 'stderr';

export function spawnProc(cmd: string, args: string[], opts: RunOptions = {}): ProcHandle {
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const out: Record<Stream, string> = { stdout: '', stderr: '' };
  // Line listeners get every complete line, then `null` once the process has exited.
  const listeners = new Set<(stream: Stream, line: string | null) => void>();
  const partial: Record<Stream, string> = { stdout: '', stderr: '' };
  let timedOut = false;
  let spawnError: Error | undefined;
  let exited = false;
  let timer: NodeJS.Timeout | undefined;

  for (const s of ['stdout', 'stderr'] as const) {
    const stream = child[s]; // non-null: stdio is 'pipe' for both
    if (!stream) continue;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      out[s] += chunk;
      const lines = (partial[s] + chunk).split('\n');
      partial[s] = lines.pop() ?? '';
      for (const line of lines) for (const l of [...listeners]) l(s, line);
    });
  }
  if (opts.input !== undefined && child.stdin) {
    child.stdin.on('error', () => {}); // EPIPE if the child does not read stdin
    child.stdin.end(opts.input);
  }
  if (opts.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
  }

  const done = new Promise<RunResult>((resolve) => {
    child.on('error', (err) => {
      // spawn failure (ENOENT...): 'close' may still follow; record and let close resolve.
      spawnError = err;
      if (child.pid === undefined) finish(null, null);
    });
    child.on('close', (code, signal) => finish(code, signal));
    function finish(code: number | null, signal: NodeJS.Signals | null): void {
      if (exited) return;
      exited = true;
      if (timer) clearTimeout(timer);
      // Flush unterminated last lines so waitForLine sees them.
      for (const s of ['stdout', 'stderr'] as const) {
        if (partial[s]) for (const l of [...listeners]) l(s, partial[s]);
        partial[s] = '';
      }
      let exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1);
      if (spawnError && code === null && !signal) {
        exitCode = 127;
        out.stderr += `spawn ${cmd} failed: ${spawnError.message}\n`;
      }
      for (const l of [...listeners]) l('stderr', null); // wake waiters
      resolve({ exitCode, stdout: out.stdout, stderr: out.stderr, signal, timedOut });
    }
  });

  return {
    pid: child.pid ?? -1,
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
    get exited() {
      return exited;
    },
    kill: (signal: NodeJS.Signals = 'SIGTERM') => !exited && child.kill(signal),
    wait: () => done,
    waitForLine(re: RegExp, wopts: WaitLineOptions = {}): Promise<string> {
      const want = wopts.stream ?? 'any';
      const streams: Stream[] = want === 'any' ? ['stdout', 'stderr'] : [want];
      const test = (line: string): boolean => {
        re.lastIndex = 0;
        return re.test(line);
      };
      // History first: the line may have been printed before the caller asked.
      for (const s of streams) {
        const complete = out[s].split('\n');
        if (!exited) complete.pop(); // the unterminated tail is not a line yet
        const hit = complete.find(test);
        if (hit !== undefined) return Promise.resolve(hit);
      }
      if (exited) return Promise.reject(new Error(`process exited before printing ${re}\n${tail(out)}`));
      return new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`timed out after ${wopts.timeoutMs ?? 30000} ms waiting for ${re}\n${tail(out)}`));
        }, wopts.timeoutMs ?? 30_000);
        const listener = (s: Stream, line: string | null): void => {
          if (line === null) {
            clearTimeout(t);
            listeners.delete(listener);
            reject(new Error(`process exited before printing ${re}\n${tail(out)}`));
          } else if (streams.includes(s) && test(line)) {
            clearTimeout(t);
            listeners.delete(listener);
            resolve(line);
          }
        };
        listeners.add(listener);
      });
    },
  };
}

function tail(out: Record<Stream, string>): string {
  return `--- stdout (tail) ---\n${out.stdout.slice(-2000)}\n--- stderr (tail) ---\n${out.stderr.slice(-2000)}`;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return spawnProc(cmd, args, opts).wait();
}

/** Like run() but throws (with stderr) on non-zero exit: for lab plumbing. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, { timeoutMs: 30_000, ...opts });
  if (r.exitCode !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}): ${r.stderr.trim()}`,
    );
  }
  return r;
}
