// A small fsync'd record of each migration's phases on each host, so that after a crash `vmig recover`
// knows what this host last did instead of guessing.
import { readdir } from 'node:fs/promises';
import type { MigrationPhase } from '../protocol/phases.js';
import { readJsonOrUndefined, writeFileDurable } from '../util/fs.js';
import { MIGRATION_ID_PATTERN } from '../protocol/ids.js';
import type { StateDir } from './state.js';

/** The phases are src/protocol/phases.ts's, stored by name. */
export type JournalPhase = MigrationPhase;

export interface JournalEntry {
  migrationId: string;
  role: 'source' | 'destination';
  domain: string;
  peer: string;
  phase: JournalPhase;
  updatedAt: string;
  detail?: string;
}

export class Journal {
  constructor(private readonly state: StateDir) {}

  async record(entry: Omit<JournalEntry, 'updatedAt'>): Promise<void> {
    await writeFileDurable(
      this.state.journalPath(entry.migrationId),
      `${JSON.stringify({ ...entry, updatedAt: new Date().toISOString() })}\n`,
    );
  }

  read(migrationId: string): Promise<JournalEntry | undefined> {
    return readJsonOrUndefined<JournalEntry>(this.state.journalPath(migrationId));
  }

  async all(): Promise<JournalEntry[]> {
    let files: string[];
    try {
      files = await readdir(this.state.journalDir);
    } catch {
      return [];
    }
    const entries = await Promise.all(
      files
        .filter((file) => file.endsWith('.json') && MIGRATION_ID_PATTERN.test(file.slice(0, -5)))
        .map((file) => this.read(file.slice(0, -5))),
    );
    return entries.filter((entry): entry is JournalEntry => entry !== undefined);
  }
}
