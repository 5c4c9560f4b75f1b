// The config file's migration keys, derived from the options table: one zod schema per value spec, so a range
// is written once (options/table.ts) and the file, the flags and the agents' wire checks agree.
import { z } from 'zod';
import { DISK_TARGET_PATTERN } from '../domain/definition.js';
import { isVmigError } from '../errors.js';
import { parseStorageMap } from '../storage/plan.js';
import { MIGRATION_OPTIONS, type ValueSpec } from './table.js';

const port = z.number().int().min(1).max(65535);
export const portRangeSchema = z
  .tuple([port, port])
  .refine(([from, to]) => from <= to, 'must be [from, to] with from <= to');

const intOf = (spec: Extract<ValueSpec, { kind: 'int' }>): z.ZodNumber => {
  const int = z.number().int().min(spec.min);
  return spec.max === undefined ? int : int.max(spec.max);
};

/** ["/srv/local=/srv/big", …] in the file, the same {from, to} mappings as --storage-map after parsing. */
const storageMapSchema = z
  .array(z.string())
  .min(1)
  .superRefine((entries, context) => {
    for (const entry of entries) {
      try {
        parseStorageMap([entry]);
      } catch (error) {
        if (!isVmigError(error)) throw error;
        context.addIssue({ code: 'custom', message: `"${entry}": expected SOURCE_DIR=DESTINATION_DIR, both absolute` });
      }
    }
  })
  .transform((entries) => parseStorageMap(entries));

export function schemaOf(spec: ValueSpec): z.ZodType {
  switch (spec.kind) {
    case 'switch':
      return z.boolean();
    case 'int':
      return intOf(spec);
    case 'choice':
      return z.enum(spec.choices as readonly [string, ...string[]]);
    case 'text':
    case 'uri':
      return z.string().min(1);
    case 'port-range':
      return portRangeSchema;
    case 'disk-targets':
      return z.array(z.string().regex(DISK_TARGET_PATTERN)).min(1);
    case 'storage-map':
      return storageMapSchema;
  }
}

/** The wire schema of a whole-number row (for the agents' parameter checks), by its key in the table. */
export function intSchema(key: string): z.ZodNumber {
  const spec = MIGRATION_OPTIONS.find((option) => option.key === key)?.value;
  if (spec?.kind !== 'int') throw new Error(`no whole-number migration option ${key}`);
  return intOf(spec);
}

/** Options that may be set for every migration or per destination host: one optional key per row that has one. */
export const migrationConfigShape: Record<string, z.ZodOptional<z.ZodType>> = Object.fromEntries(
  MIGRATION_OPTIONS.flatMap((row) => (row.config ? [[row.config, schemaOf(row.value).optional()]] : [])),
);
