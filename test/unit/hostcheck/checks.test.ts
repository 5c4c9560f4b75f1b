import { describe, expect, it } from 'vitest';
import { failureLine, judgeDisk, judgeMemory, judgeStateDir } from '../../../src/hostcheck/checks.js';

const dir = (path: string, mode: number, uid = 0) => ({ path, exists: true, uid, mode: 0o040000 | mode });

describe('host check judgements', () => {
  it('state dir: owner and modes, with the fix', () => {
    expect(judgeStateDir(dir('/s', 0o755), [dir('/s/run', 0o700), dir('/s/journal', 0o700)], 0).status).toBe('pass');
    const open = judgeStateDir(dir('/s', 0o777), [], 0);
    expect(failureLine('h1', open)).toBe('h1: state-dir: /s is mode 0777: others can write to it; fix: chmod go-w /s');
    expect(judgeStateDir(dir('/s', 0o755, 1000), [], 0)).toMatchObject({ status: 'fail', fix: 'chown 0 /s' });
    expect(judgeStateDir(dir('/s', 0o755), [dir('/s/run', 0o755)], 0)).toMatchObject({
      status: 'fail',
      fix: 'chmod 700 /s/run',
    });
    expect(judgeStateDir({ path: '/s', exists: false }, [], 0).status).toBe('warn');
  });

  it('memory and disk', () => {
    expect(judgeMemory(1024 * 1048576, 64)).toMatchObject({
      status: 'pass',
      detail: '1024 MiB available, 960 MiB for guests after 64 MiB headroom',
    });
    expect(judgeMemory(32 * 1048576, 64).status).toBe('fail');
    expect(judgeDisk('/s', 10 * 1048576).status).toBe('fail');
    expect(judgeDisk('/s', 10_000 * 1048576).status).toBe('pass');
  });
});
