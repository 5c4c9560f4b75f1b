// Identifiers that cross the agent protocol and become file names on a host (journal/ID.json): one schema,
// used by every handler that takes one, and checked again where a path is built from it.
import { z } from 'zod';
import { VmigError } from '../errors.js';

/** What the controller mints (a UUID) and anything else safe as one path component: no "/", no "..". */
export const MIGRATION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{7,63}$/;

export const migrationIdSchema = z.string().regex(MIGRATION_ID_PATTERN, 'must be 8-64 letters, digits and "-"');
/** Evacuation job ids are minted the same way. */
export const jobIdSchema = migrationIdSchema;

export function assertMigrationId(id: string): void {
  if (!MIGRATION_ID_PATTERN.test(id))
    throw new VmigError('USAGE', `"${id.slice(0, 80)}" is not a valid migration id (8-64 letters, digits and "-")`);
}
