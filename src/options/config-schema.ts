// The config file's migration keys, derived from the options table: one zod schema per value spec, so a range
// is written once (options/table.ts) and the file, the flags and the agents' wire checks agree.
import { z } from 'zod';
import { MIGRATION_OPTIONS, type ValueSpec } from './table.js';

const port = z.number().int().min(1).max(65535);
export const portRangeSchema = z
  .tuple([port, port])
  .refine(([from, to]) => from <= to, 'must be [from, to] with from <= to');

const intOf = (spec: Extract<ValueSpec, { kind: 'int' }>): z.ZodNumber => {
  const int = z.number().int().min(spec.min);
  return spec.max === undefined ? int : int.max(spec.max);
};

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
