// Newline-delimited JSON framing, without I/O: feed bytes in, get parsed messages out.
// Used for the agent protocol and for QMP (which is also one JSON object per line).

/** Longest single message accepted; a peer that sends more without a newline is broken or hostile. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** The peer broke the framing (a line that is not JSON, or too long): the stream cannot be trusted further. */
export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

const NEWLINE = 0x0a;

export class LineDecoder {
  // The unfinished line, as the chunks it arrived in: each byte is scanned for a newline once, never again.
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private closed = false;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  /**
   * Hands each complete JSON value in `chunk` to `onValue`, in order. A malformed or over-long line throws a
   * FramingError after the values before it were delivered, and closes the decoder.
   */
  push(chunk: Buffer | string, onValue: (value: unknown) => void): void {
    if (this.closed) return;
    // A newline byte never occurs inside a multi-byte UTF-8 character, so splitting bytes is safe.
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    let newline = bytes.indexOf(NEWLINE, start);
    while (newline !== -1) {
      const length = this.partialBytes + newline - start;
      if (length > this.maxLineBytes) this.fail(`protocol message longer than ${this.maxLineBytes} bytes`);
      const line = this.takeLine(bytes.subarray(start, newline)).trim();
      if (line.length > 0) onValue(this.parse(line));
      start = newline + 1;
      newline = bytes.indexOf(NEWLINE, start);
    }
    if (start < bytes.length) {
      this.partialBytes += bytes.length - start;
      if (this.partialBytes > this.maxLineBytes) this.fail(`protocol message longer than ${this.maxLineBytes} bytes`);
      // Copied: the caller may reuse its buffer (sockets do not, but nothing says so).
      this.partial.push(Buffer.from(bytes.subarray(start)));
    }
  }

  /** Drops whatever is buffered; later input is ignored. */
  close(): void {
    this.closed = true;
    this.partial = [];
    this.partialBytes = 0;
  }

  /** Bytes held for an unfinished line. */
  get buffered(): number {
    return this.partialBytes;
  }

  private takeLine(tail: Buffer): string {
    if (this.partial.length === 0) return tail.toString('utf8');
    const line = Buffer.concat([...this.partial, tail]).toString('utf8');
    this.partial = [];
    this.partialBytes = 0;
    return line;
  }

  private parse(line: string): unknown {
    try {
      return JSON.parse(line);
    } catch {
      this.fail(`malformed protocol line: ${line.slice(0, 80)}`);
    }
  }

  private fail(message: string): never {
    this.close();
    throw new FramingError(message);
  }
}

export const encodeLine = (value: unknown): string => `${JSON.stringify(value)}\n`;
