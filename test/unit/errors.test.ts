import { describe, expect, it } from 'vitest';
import { ExitCode, VmigError, describeError, errorFromWire, isErrorCode, type ErrorCode } from '../../src/errors.js';

const exitOf = (code: ErrorCode) => new VmigError(code, 'x').exitCode;

describe('VmigError exit codes', () => {
  it('maps usage errors to 2', () => {
    for (const code of ['USAGE', 'BAD_URI', 'BAD_DOMAIN_FILE', 'DOMAIN_NOT_FOUND', 'SAME_HOST', 'NO_JOB'] as const)
      expect(exitOf(code)).toBe(2);
  });

  it('maps connection errors to 3', () => {
    for (const code of [
      'HOST_UNREACHABLE',
      'AUTH_FAILED',
      'HOST_KEY_UNKNOWN',
      'HOST_KEY_CHANGED',
      'PROTOCOL_MISMATCH',
    ] as const)
      expect(exitOf(code)).toBe(3);
  });

  it('maps failed migrations to 1, recovery to 4, locks to 5 and internal errors to 70', () => {
    for (const code of [
      'MIGRATION_FAILED',
      'MIGRATION_ABORTED',
      'QEMU_FAILED',
      'AGENT_FAILED',
      'COOKIE_REJECTED',
    ] as const)
      expect(exitOf(code)).toBe(1);
    expect(exitOf('NEEDS_RECOVERY')).toBe(4);
    expect(exitOf('LOCKED')).toBe(5);
    expect(exitOf('INTERNAL')).toBe(ExitCode.internal);
  });

  it('lets an explicit exit code win and keeps cause and host', () => {
    const cause = new Error('ECONNRESET');
    const error = new VmigError('HOST_UNREACHABLE', 'lost h2', { exitCode: ExitCode.failed, host: 'h2', cause });
    expect(error).toMatchObject({ exitCode: 1, host: 'h2', cause, name: 'VmigError' });
    expect(error.toJSON()).toEqual({ code: 'HOST_UNREACHABLE', message: 'lost h2' });
  });
});

describe('errorFromWire', () => {
  it('keeps a known code and sets the host', () => {
    const error = errorFromWire({ code: 'LOCKED', message: 'web1 is being migrated' }, 'h1');
    expect(error).toMatchObject({ code: 'LOCKED', exitCode: 5, message: 'web1 is being migrated', host: 'h1' });
  });

  it('turns an unknown code into AGENT_FAILED and a missing message into a generic one', () => {
    const error = errorFromWire({ code: 'FROM_THE_FUTURE', message: 42 });
    expect(error.code).toBe('AGENT_FAILED');
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe('the agent reported an unknown error');
    expect(error.host).toBeUndefined();
  });

  it('does not accept inherited property names as codes', () => {
    expect(isErrorCode('toString')).toBe(false);
    expect(errorFromWire({ code: 'constructor', message: 'm' }).code).toBe('AGENT_FAILED');
  });
});

describe('describeError', () => {
  it('gives the first line of a message, or the string form', () => {
    expect(describeError(new Error('first\nsecond'))).toBe('first');
    expect(describeError('plain')).toBe('plain');
  });
});
