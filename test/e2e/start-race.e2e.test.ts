// Audit item 12: concurrent starts of one domain, from separate agent processes at the same instant, with real
// QEMU. Exactly one starts it; every other gets a clear "already" error; no QEMU is left that no record names.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transpileForChildren } from '../support/transpile.js';
import { guestDefinition } from './support.js';

const STARTERS = 4;
const ROUNDS = 3;

interface Outcome {
  round: number;
  started: boolean;
  pid?: number;
  error?: string;
}

const CHILD = `
import { Instances } from './agent/instances.js';
import { StateDir } from './agent/state.js';
const state = new StateDir(process.argv[2]);
await state.ensure();
const instances = new Instances(state, () => 'h1');
process.on('message', async (message) => {
  if (message.type === 'exit') process.exit(0);
  while (Date.now() < message.at) await new Promise((resolve) => setTimeout(resolve, Math.max(0, message.at - Date.now() - 1)));
  try {
    const instance = await instances.start(message.definition);
    process.send({ round: message.round, started: true, pid: instance.pid });
  } catch (error) {
    process.send({ round: message.round, started: false, error: error.code + ': ' + error.message });
  }
});
process.send({ ready: true });
`;

/** QEMU processes whose command line names `stateDir`: ours, started by this test. */
function qemusOf(stateDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.startsWith('qemu-system') && cmdline.includes(stateDir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

describe('concurrent starts of one domain (separate agent processes, real QEMU)', () => {
  let dir: string;
  let stateDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = transpileForChildren(['agent/instances.ts', 'agent/state.ts']);
    writeFileSync(join(dir, 'child.mjs'), CHILD);
    stateDir = mkdtempSync('/tmp/vmig-start-race-');
    await Promise.all(
      Array.from({ length: STARTERS }, () => {
        const child = fork(join(dir, 'child.mjs'), [stateDir], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        children.push(child);
        return new Promise<void>((resolve, reject) => {
          child.once('message', () => resolve());
          child.once('exit', (code) => reject(new Error(`a starter exited with ${code} before it was ready`)));
        });
      }),
    );
  }, 60_000);

  afterAll(() => {
    for (const child of children) if (child.connected) child.send({ type: 'exit' });
    for (const pid of qemusOf(stateDir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  function round(round: number, definition: object): Promise<Outcome[]> {
    const at = Date.now() + 200;
    return Promise.all(
      children.map(
        (child) =>
          new Promise<Outcome>((resolve) => {
            const onMessage = (message: Outcome) => {
              if (message.round !== round) return;
              child.off('message', onMessage);
              resolve(message);
            };
            child.on('message', onMessage);
            child.send({ type: 'round', round, definition, at });
          }),
      ),
    );
  }

  it(`one of ${STARTERS} simultaneous starts wins, ${ROUNDS} rounds; the others are told why; exactly one QEMU, the recorded one`, async () => {
    const failures: string[] = [];
    for (let index = 0; index < ROUNDS; index++) {
      const name = `race${index}`;
      const definition = guestDefinition(name, `7d3c1f00-0000-4000-8000-00000000000${index}`, 32);
      const outcomes = await round(index, definition);
      const started = outcomes.filter((outcome) => outcome.started);
      if (started.length !== 1) failures.push(`round ${index}: ${started.length} starts succeeded`);
      for (const loser of outcomes.filter((outcome) => !outcome.started)) {
        if (
          !new RegExp(`^DOMAIN_RUNNING: domain ${name} is already (running|being started) on h1`).test(
            loser.error ?? '',
          )
        )
          failures.push(`round ${index}: ${loser.error}`);
      }
      const running = qemusOf(join(stateDir, 'run', `${name}/`));
      const record = (() => {
        try {
          return (JSON.parse(readFileSync(join(stateDir, 'run', name, 'instance.json'), 'utf8')) as { pid: number })
            .pid;
        } catch {
          return undefined;
        }
      })();
      if (running.length !== 1 || running[0] !== record)
        failures.push(`round ${index}: QEMUs ${JSON.stringify(running)}, recorded ${record}`);
      for (const pid of running) process.kill(pid, 'SIGKILL');
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
