// Audit item 3: many agents racing for one migration lock, as separate processes. Exactly one may win each
// round, whether the lock was free or held by a dead agent that has to be broken first.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transpileForChildren } from '../../support/transpile.js';

const CHILDREN = 20;
const ROUNDS = 30;

interface Outcome {
  round: number;
  won: boolean;
  migrationId: string;
  error?: string;
}

const CHILD = `
import { Locks } from './agent/locks.js';
import { StateDir } from './agent/state.js';
const locks = new Locks(new StateDir(process.argv[2]), () => 'racer');
process.on('message', async (message) => {
  if (message.type === 'exit') process.exit(0);
  const migrationId = 'm' + message.round + '-' + process.pid;
  // All racers wake at the same instant.
  while (Date.now() < message.at) await new Promise((resolve) => setTimeout(resolve, Math.max(0, message.at - Date.now() - 1)));
  try {
    await locks.acquire(message.name, { migrationId, controller: 'racer', startedAt: new Date().toISOString(), agentPid: process.pid });
    process.send({ round: message.round, won: true, migrationId });
  } catch (error) {
    process.send({ round: message.round, won: false, migrationId, error: error.code + ': ' + error.message });
  }
});
process.send({ ready: true });
`;

describe('migration lock under concurrent takers (separate processes)', () => {
  let dir: string;
  let stateDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = transpileForChildren(['agent/locks.ts', 'agent/state.ts']);
    writeFileSync(join(dir, 'child.mjs'), CHILD);
    stateDir = join(dir, 'state');
    mkdirSync(join(stateDir, 'locks'), { recursive: true, mode: 0o700 });
    await Promise.all(
      Array.from({ length: CHILDREN }, () => {
        const child = fork(join(dir, 'child.mjs'), [stateDir], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        children.push(child);
        return new Promise<void>((resolve, reject) => {
          child.once('message', () => resolve());
          child.once('exit', (code) => reject(new Error(`a racer exited with ${code} before it was ready`)));
        });
      }),
    );
  }, 30_000);

  afterAll(() => {
    for (const child of children) if (child.connected) child.send({ type: 'exit' });
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function round(round: number, name: string): Promise<Outcome[]> {
    const at = Date.now() + 40;
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
            child.send({ type: 'round', round, name, at });
          }),
      ),
    );
  }

  it(`exactly one of ${CHILDREN} wins, ${ROUNDS} rounds, half of them over a dead holder's lock`, async () => {
    // A pid that has exited: the lock it "holds" is stale and must be broken by exactly one taker.
    const deadPid = spawnSync('true').pid!;
    const failures: string[] = [];
    for (let index = 0; index < ROUNDS; index++) {
      const name = `d${index}`;
      if (index % 2 === 1) {
        writeFileSync(
          join(stateDir, 'locks', `${name}.lock`),
          `${JSON.stringify({ migrationId: 'dead', controller: 'gone', startedAt: '2020-01-01T00:00:00Z', agentPid: deadPid })}\n`,
        );
      }
      const outcomes = await round(index, name);
      const winners = outcomes.filter((outcome) => outcome.won);
      if (winners.length !== 1) failures.push(`round ${index}: ${winners.length} winners`);
      for (const loser of outcomes.filter((outcome) => !outcome.won)) {
        if (!/^LOCKED: domain d\d+ on racer is already being migrated by job m\d+-\d+/.test(loser.error ?? ''))
          failures.push(`round ${index}: ${loser.error}`);
      }
      let onDisk: string;
      try {
        onDisk = (JSON.parse(readFileSync(join(stateDir, 'locks', `${name}.lock`), 'utf8')) as { migrationId: string })
          .migrationId;
      } catch (error) {
        onDisk = `nothing (${(error as Error).message})`;
      }
      if (onDisk !== winners[0]?.migrationId)
        failures.push(`round ${index}: the lock names ${onDisk}, the winner was ${winners[0]?.migrationId}`);
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
