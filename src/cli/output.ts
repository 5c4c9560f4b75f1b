// stdout carries results (and --json events) only; everything for humans goes to stderr.
// Colour is decided once, per stream: --no-color / NO_COLOR, then FORCE_COLOR, then whether it is a TTY.
import { Chalk, type ChalkInstance } from 'chalk';
import { useColor } from './colour.js';
import type { GlobalOptions } from './action.js';

export { useColor } from './colour.js';

export class Output {
  readonly chalk: ChalkInstance;
  readonly interactive: boolean;

  constructor(readonly options: GlobalOptions) {
    this.chalk = new Chalk({ level: useColor(process.stderr, options.color) ? 1 : 0 });
    this.interactive = process.stderr.isTTY === true && !options.json && !options.quiet;
  }

  /** A result line on stdout. */
  result(text: string): void {
    process.stdout.write(`${text}\n`);
  }

  /** One NDJSON event on stdout. */
  event(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Human information on stderr (silent with --quiet). */
  info(text: string): void {
    if (!this.options.quiet) process.stderr.write(`${text}\n`);
  }

  verbose(text: string): void {
    if (this.options.verbose) process.stderr.write(`${this.chalk.dim(text)}\n`);
  }

  warn(text: string): void {
    process.stderr.write(`${this.chalk.yellow('warning:')} ${text}\n`);
  }
}

/** Column-aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('   ')
      .trimEnd();
  return [line(headers), widths.map((width) => '-'.repeat(width)).join('---'), ...rows.map(line)].join('\n');
}
