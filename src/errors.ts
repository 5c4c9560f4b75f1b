// Typed errors: every failure vmig reports carries a stable code and the exit code the CLI contract promises.
// Only src/cli/main.ts turns them into an exit; everything else throws.

/** The exit-code contract (README "Exit codes", man page EXIT STATUS). */
export const ExitCode = {
  ok: 0,
  /** The migration failed; the guest still runs on the source. Safe to retry. */
  failed: 1,
  /** Bad usage or input; nothing was changed on any host. */
  usage: 2,
  /** A host could not be reached, authenticated or spoken to. */
  connect: 3,
  /** The guest's state needs attention; the message names the command that resolves it. */
  needsRecovery: 4,
  /** Another job holds the lock (a migration of the same guest, or an evacuation of the same host). */
  busy: 5,
  /** An evacuation ended with guests still on the source host (each one running there, safely); the report says which and why. */
  partial: 6,
  /** vmig itself is broken: a bug, please report. */
  internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Stable error codes, shared by agent and controller (they cross the RPC boundary as strings). */
export type ErrorCode =
  | 'USAGE'
  | 'BAD_DOMAIN_FILE'
  | 'BAD_URI'
  | 'BAD_CONFIG'
  | 'DOMAIN_NOT_FOUND'
  | 'DOMAIN_EXISTS'
  | 'DOMAIN_NOT_RUNNING'
  | 'DOMAIN_RUNNING'
  | 'SAME_HOST'
  | 'HOST_UNSUITABLE'
  | 'DEFINITION_REFUSED'
  | 'HOST_UNREACHABLE'
  | 'AUTH_FAILED'
  | 'HOST_KEY_UNKNOWN'
  | 'HOST_KEY_CHANGED'
  | 'PROTOCOL_MISMATCH'
  | 'AGENT_FAILED'
  | 'QEMU_FAILED'
  | 'PREPARE_FAILED'
  | 'MIGRATION_FAILED'
  | 'MIGRATION_ABORTED'
  | 'COOKIE_REJECTED'
  | 'NEEDS_RECOVERY'
  | 'LOCKED'
  | 'NO_JOB'
  | 'PARTIAL'
  | 'INTERNAL';

const exitCodeFor: Record<ErrorCode, ExitCodeValue> = {
  USAGE: ExitCode.usage,
  BAD_DOMAIN_FILE: ExitCode.usage,
  BAD_URI: ExitCode.usage,
  BAD_CONFIG: ExitCode.usage,
  DOMAIN_NOT_FOUND: ExitCode.usage,
  DOMAIN_EXISTS: ExitCode.usage,
  DOMAIN_NOT_RUNNING: ExitCode.usage,
  DOMAIN_RUNNING: ExitCode.usage,
  SAME_HOST: ExitCode.usage,
  HOST_UNSUITABLE: ExitCode.usage,
  DEFINITION_REFUSED: ExitCode.usage,
  HOST_UNREACHABLE: ExitCode.connect,
  AUTH_FAILED: ExitCode.connect,
  HOST_KEY_UNKNOWN: ExitCode.connect,
  HOST_KEY_CHANGED: ExitCode.connect,
  PROTOCOL_MISMATCH: ExitCode.connect,
  AGENT_FAILED: ExitCode.failed,
  QEMU_FAILED: ExitCode.failed,
  PREPARE_FAILED: ExitCode.failed,
  MIGRATION_FAILED: ExitCode.failed,
  MIGRATION_ABORTED: ExitCode.failed,
  COOKIE_REJECTED: ExitCode.failed,
  NEEDS_RECOVERY: ExitCode.needsRecovery,
  LOCKED: ExitCode.busy,
  NO_JOB: ExitCode.usage,
  PARTIAL: ExitCode.partial,
  INTERNAL: ExitCode.internal,
};

export interface VmigErrorOptions {
  cause?: unknown;
  /** Where it happened (a host label), for messages and --json. */
  host?: string;
  /** Overrides the exit code the code implies (e.g. a connect error during migration that left the guest on the source). */
  exitCode?: ExitCodeValue;
}

export class VmigError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;
  readonly host: string | undefined;

  constructor(code: ErrorCode, message: string, options: VmigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VmigError';
    this.code = code;
    this.exitCode = options.exitCode ?? exitCodeFor[code];
    this.host = options.host;
  }

  /** The wire form, as it crosses the agent protocol. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export const isVmigError = (error: unknown): error is VmigError => error instanceof VmigError;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(exitCodeFor, value);
}

/** Rebuilds an error received from an agent, keeping its code. */
export function errorFromWire(wire: { code?: unknown; message?: unknown }, host?: string): VmigError {
  const code = isErrorCode(wire.code) ? wire.code : 'AGENT_FAILED';
  const message = typeof wire.message === 'string' ? wire.message : 'the agent reported an unknown error';
  return new VmigError(code, message, host === undefined ? {} : { host });
}

/** One line for an operator, whatever was thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? String(error);
  return String(error);
}
