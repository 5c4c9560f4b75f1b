// Newline-delimited JSON framing, without I/O: feed bytes in, get parsed messages out.
// Used for the agent protocol and for QMP (which is also one JSON object per line).
import { StringDecoder } from 'node:string_decoder';

/** Longest single message accepted; a peer that sends more without a newline is broken or hostile. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export class LineDecoder {
  private pending = '';
  // Keeps a multi-byte character split across two chunks whole.
  private readonly utf8 = new StringDecoder('utf8');

  /** Returns the complete JSON values in `chunk` (plus what was buffered). Throws on a malformed line. */
  push(chunk: Buffer | string): unknown[] {
    this.pending += typeof chunk === 'string' ? chunk : this.utf8.write(chunk);
    const values: unknown[] = [];
    let newline = this.pending.indexOf('\n');
    while (newline !== -1) {
      const line = this.pending.slice(0, newline).trim();
      this.pending = this.pending.slice(newline + 1);
      if (line.length > 0) values.push(parseLine(line));
      newline = this.pending.indexOf('\n');
    }
    if (this.pending.length > MAX_LINE_BYTES) {
      throw new Error(`protocol message longer than ${MAX_LINE_BYTES} bytes`);
    }
    return values;
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`malformed protocol line: ${line.slice(0, 80)}`);
  }
}

export const encodeLine = (value: unknown): string => `${JSON.stringify(value)}\n`;
