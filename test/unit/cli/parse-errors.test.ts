// Commander's own parse errors reach the operator as every other error does: one `vmig: error: …` line, exit 2.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';

let stderr: string[];
let stdout: string[];
beforeEach(() => {
  stderr = [];
  stdout = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout.push(String(chunk));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

async function vmig(...args: string[]) {
  stderr.length = 0;
  stdout.length = 0;
  const exitCode = await main(['node', 'vmig', '--no-color', ...args]);
  return { exitCode, stderr: stderr.join(''), stdout: stdout.join('') };
}

describe("commander's parse errors", () => {
  it('an invalid choice', async () => {
    expect(await vmig('migrate', 'g1', 'h2', '--timeout-action', 'explode')).toEqual({
      exitCode: 2,
      stderr:
        "vmig: error: option '--timeout-action <action>' argument 'explode' is invalid. Allowed choices are abort, suspend, postcopy.\n",
      stdout: '',
    });
  });

  it('an unknown option, with its suggestion on the same line', async () => {
    expect(await vmig('migrate', 'g1', 'h2', '--x')).toEqual({
      exitCode: 2,
      stderr: "vmig: error: unknown option '--x'\n",
      stdout: '',
    });
    const suggested = await vmig('migrate', 'g1', 'h2', '--directt');
    expect(suggested).toEqual({
      exitCode: 2,
      stderr: "vmig: error: unknown option '--directt' (Did you mean --direct?)\n",
      stdout: '',
    });
  });

  it('an unknown command, a missing argument and a global unknown option', async () => {
    expect(await vmig('mirgate')).toMatchObject({
      exitCode: 2,
      stderr: "vmig: error: unknown command 'mirgate' (Did you mean migrate?)\n",
    });
    expect(await vmig('start')).toMatchObject({
      exitCode: 2,
      stderr: "vmig: error: missing required argument 'name'\n",
    });
    expect(await vmig('--bogus', 'list')).toMatchObject({
      exitCode: 2,
      stderr: "vmig: error: unknown option '--bogus'\n",
    });
  });

  it('help and version are still printed by commander, exit 0', async () => {
    const version = await vmig('--version');
    expect(version.exitCode).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
    expect(version.stderr).toBe('');
  });
});
