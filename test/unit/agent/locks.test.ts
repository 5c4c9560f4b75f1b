// Audit item 4: a lock whose holder is gone must count as stale even when its pid now belongs to another
// process (pid reuse) or the host rebooted since (another boot id); the old format (pid only) still reads.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentContext } from '../../../src/agent/context.js';
import { evacuationHandlers } from '../../../src/agent/evacuation.js';
import { Locks } from '../../../src/agent/locks.js';
import { StateDir } from '../../../src/agent/state.js';
import { currentBootId, processStartTime } from '../../../src/util/process.js';

const holderFields = { migrationId: 'forged-1', controller: 'elsewhere', startedAt: '2026-01-01T00:00:00Z' };

describe('migration locks: who counts as alive', () => {
  let root: string;
  let state: StateDir;
  let locks: Locks;
  let sleeper: ChildProcess;
  let bootId: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'vmig-locks-'));
    state = new StateDir(root);
    mkdirSync(state.locksDir, { recursive: true, mode: 0o700 });
    locks = new Locks(state, () => 'h1');
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  });
  afterAll(() => {
    sleeper.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  const forge = (name: string, holder: object) =>
    writeFileSync(state.lockPath(name), `${JSON.stringify({ ...holderFields, ...holder })}\n`);
  const startTimeOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!;
  const take = (name: string) =>
    locks.acquire(name, {
      migrationId: `mine-${name}`,
      controller: 'me',
      startedAt: new Date().toISOString(),
      agentPid: process.pid,
    });

  it('reads the start time and boot id from /proc', () => {
    expect(processStartTime(sleeper.pid!)).toBe(startTimeOf(sleeper.pid!));
    expect(currentBootId()).toBe(bootId);
  });

  it('a live holder (same pid, start time and boot) keeps its lock', async () => {
    forge('live', { agentPid: sleeper.pid, agentStartTime: startTimeOf(sleeper.pid!), bootId });
    expect((await locks.heldBy('live'))?.migrationId).toBe('forged-1');
    await expect(take('live')).rejects.toThrow(/domain live on h1 is already being migrated by job forged-1/);
  });

  it('a reused pid (alive, but started at another time) does not hold the lock', async () => {
    forge('reused', { agentPid: sleeper.pid, agentStartTime: String(Number(startTimeOf(sleeper.pid!)) + 1), bootId });
    expect(await locks.heldBy('reused')).toBeUndefined();
    await take('reused');
    expect((await locks.heldBy('reused'))?.migrationId).toBe('mine-reused');
  });

  it('a lock from another boot does not hold, even if that pid and start time exist now', async () => {
    forge('rebooted', {
      agentPid: sleeper.pid,
      agentStartTime: startTimeOf(sleeper.pid!),
      bootId: '00000000-0000-4000-8000-000000000000',
    });
    expect(await locks.heldBy('rebooted')).toBeUndefined();
    await take('rebooted');
    expect((await locks.heldBy('rebooted'))?.migrationId).toBe('mine-rebooted');
  });

  it('the old format (pid only): a live pid holds, a dead one does not, one written before this boot does not', async () => {
    forge('old-live', { agentPid: sleeper.pid });
    expect((await locks.heldBy('old-live'))?.migrationId).toBe('forged-1');
    await expect(take('old-live')).rejects.toThrow(/already being migrated by job forged-1/);

    forge('old-dead', { agentPid: spawnSync('true').pid });
    expect(await locks.heldBy('old-dead')).toBeUndefined();
    await take('old-dead');

    forge('old-boot', { agentPid: sleeper.pid });
    utimesSync(state.lockPath('old-boot'), new Date('2000-01-01'), new Date('2000-01-01'));
    expect(await locks.heldBy('old-boot')).toBeUndefined();
    await take('old-boot');
    expect((await locks.heldBy('old-boot'))?.migrationId).toBe('mine-old-boot');
  });

  it('a taken lock records this process fully, is private (0600), and leaves no temp file behind', async () => {
    await take('fresh');
    const record = JSON.parse(readFileSync(state.lockPath('fresh'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({
      migrationId: 'mine-fresh',
      agentPid: process.pid,
      agentStartTime: startTimeOf(process.pid),
      bootId,
    });
    expect(statSync(state.lockPath('fresh')).mode & 0o777).toBe(0o600);
    expect(readdirSync(state.locksDir).filter((file) => !file.endsWith('.lock'))).toEqual([]);
    await locks.release('fresh', 'mine-fresh');
    expect(await locks.heldBy('fresh')).toBeUndefined();
  });

  it('the evacuation lock: a live holder refuses, a reused pid does not', async () => {
    const context = { state, host: 'h1', log: () => undefined } as unknown as AgentContext;
    const handlers = evacuationHandlers(context);
    const path = join(state.locksDir, '@evacuation.lock');
    const job = { jobId: 'other-job-1', controller: 'elsewhere', startedAt: '2026-01-01T00:00:00Z' };
    writeFileSync(
      path,
      JSON.stringify({ ...job, agentPid: sleeper.pid, agentStartTime: startTimeOf(sleeper.pid!), bootId }),
    );
    await expect(
      handlers['evacuation.lock']({ jobId: 'my-job-0001', controller: 'me' }, { signal: new AbortController().signal }),
    ).rejects.toThrow(/h1 is already being evacuated by job other-job-1/);
    writeFileSync(path, JSON.stringify({ ...job, agentPid: sleeper.pid, agentStartTime: '1', bootId }));
    await expect(
      handlers['evacuation.lock']({ jobId: 'my-job-0001', controller: 'me' }, { signal: new AbortController().signal }),
    ).resolves.toEqual({ jobId: 'my-job-0001' });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ jobId: 'my-job-0001', agentPid: process.pid });
    await handlers['evacuation.unlock']({ jobId: 'my-job-0001' }, { signal: new AbortController().signal });
  });
});
