// Status block of the vmig self-checking test guest (see guest.asm, README.md).
// Dependency-free: parse the output of QEMU's HMP `xp /16wx 0x9000`.

/** Physical address of the status block. */
export const STATUS_ADDR = 0x9000;

/** Number of 32-bit words in the status block. */
export const STATUS_WORDS = 16;

/** HMP command that dumps the status block (run via QMP human-monitor-command). */
export const STATUS_HMP = `xp /${STATUS_WORDS}wx 0x${STATUS_ADDR.toString(16)}`;

/** "VMIG" and "GST1" as little-endian words. */
export const STATUS_MAGIC0 = 0x47494d56;
export const STATUS_MAGIC1 = 0x31545347;

/** Bits of the `flags` word. */
export const GUEST_FLAGS = {
  noflush: 1 << 0,
  busy: 1 << 1,
  idle: 1 << 2,
  dirtyArg: 1 << 3,
  paging: 1 << 8,
  memInfo: 1 << 9,
  cmdline: 1 << 10,
} as const;

/** `phase` values. */
export const GUEST_PHASE_FILLING = 0;
export const GUEST_PHASE_RUNNING = 1;

/**
 * `firstBadAddr`/`lastBadAddr` equal this when the guest found its own pass
 * counter store lost (memory disagreed with its register copy).
 */
export const STATUS_PASSES_ADDR = STATUS_ADDR + 0x0c;

export interface GuestStatus {
  /** Both magic words match ("VMIGGST1"); false before boot or on a wrong address. */
  magicOk: boolean;
  /** Per-boot nonce (rdtsc at boot, never 0 once booted). Same nonce = same boot. */
  bootNonce: number;
  /** Completed verify passes. */
  passes: number;
  /** Mismatching dwords (plus lost pass-counter stores); never decreases. */
  errors: number;
  /** Address of the first mismatch (0 if none). */
  firstBadAddr: number;
  /** 0 = filling RAM, 1 = running the verify loop. */
  phase: number;
  /** Size of the pattern area in MiB. */
  patternMiB: number;
  /** Raw flags word, see GUEST_FLAGS. */
  flags: number;
  /** Pages rewritten per pass (0 in idle mode). */
  dirtyPerPass: number;
  /** Pattern area [patternStart, patternEnd). */
  patternStart: number;
  patternEnd: number;
  /** Value found / expected at firstBadAddr. */
  firstBadGot: number;
  firstBadExpected: number;
  /** Address of the most recent mismatch (0 if none). */
  lastBadAddr: number;
  /** Number of passes that saw at least one mismatch. */
  badPasses: number;
  /** Decoded options from `flags`. */
  options: { noflush: boolean; busy: boolean; idle: boolean; dirtyArg: boolean };
}

const LINE_RE = /^\s*([0-9a-fA-F]+):((?:\s+0x[0-9a-fA-F]{1,8})+)\s*$/;

/**
 * Parse the text printed by `xp /16wx 0x9000` (lines such as
 * `0000000000009000: 0x47494d56 0x31545347 0x1a2b3c4d 0x00000010`).
 * Throws an Error if the text does not contain all 16 words starting at 0x9000.
 */
export function parseGuestStatus(hmpOutput: string): GuestStatus {
  if (typeof hmpOutput !== 'string') {
    throw new Error('parseGuestStatus: expected a string (HMP output)');
  }
  const words = new Map<number, number>();
  for (const rawLine of hmpOutput.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '') continue;
    const m = LINE_RE.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    const base = Number.parseInt(m[1], 16);
    const values = m[2].trim().split(/\s+/);
    values.forEach((v, i) => {
      words.set(base + 4 * i, Number.parseInt(v, 16) >>> 0);
    });
  }
  const w: number[] = [];
  for (let i = 0; i < STATUS_WORDS; i++) {
    const v = words.get(STATUS_ADDR + 4 * i);
    if (v === undefined) {
      const shown = hmpOutput.length > 200 ? `${hmpOutput.slice(0, 200)}...` : hmpOutput;
      throw new Error(
        `parseGuestStatus: no word at 0x${(STATUS_ADDR + 4 * i).toString(16)} in HMP output ` +
          `(expected the output of '${STATUS_HMP}'): ${JSON.stringify(shown)}`,
      );
    }
    w.push(v);
  }
  const at = (i: number): number => w[i] ?? 0;
  const flags = at(8);
  return {
    magicOk: at(0) === STATUS_MAGIC0 && at(1) === STATUS_MAGIC1,
    bootNonce: at(2),
    passes: at(3),
    errors: at(4),
    firstBadAddr: at(5),
    phase: at(6),
    patternMiB: at(7),
    flags,
    dirtyPerPass: at(9),
    patternStart: at(10),
    patternEnd: at(11),
    firstBadGot: at(12),
    firstBadExpected: at(13),
    lastBadAddr: at(14),
    badPasses: at(15),
    options: {
      noflush: (flags & GUEST_FLAGS.noflush) !== 0,
      busy: (flags & GUEST_FLAGS.busy) !== 0,
      idle: (flags & GUEST_FLAGS.idle) !== 0,
      dirtyArg: (flags & GUEST_FLAGS.dirtyArg) !== 0,
    },
  };
}
