// Command-line values of the options table, parsed and range-checked; a bad value is a usage error naming the
// flag. (Config-file values are checked by the schema derived from the same specs, options/config-schema.ts.)
import { parseMigrateUri } from '../controller/transport-choice.js';
import { DISK_TARGET_PATTERN } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { parseStorageMap } from '../storage/plan.js';
import { longFlag, type MigrationOption, type ValueSpec } from './table.js';

export function parseWholeNumber(value: unknown, option: string, min = 1, max?: number, unit?: string): number {
  const number = Number(value);
  const text = String(value);
  if (max !== undefined) {
    if (text.trim() === '' || !Number.isInteger(number) || number < min || number > max) {
      throw new VmigError('USAGE', `${option} takes ${min} to ${max}${unit ? ` ${unit}` : ''}, not "${text}"`);
    }
    return number;
  }
  if (text.trim() === '' || !Number.isInteger(number) || number < min) {
    const what =
      min === 0 ? 'a non-negative whole number' : min === 1 ? 'a positive whole number' : `a whole number from ${min}`;
    throw new VmigError('USAGE', `${option} takes ${what}, not "${text}"`);
  }
  return number;
}

export function parsePortRange(value: string, option = '--port-range'): [number, number] {
  const match = /^(\d+)-(\d+)$/.exec(value);
  const range = match ? ([Number(match[1]), Number(match[2])] as [number, number]) : undefined;
  if (!range || range[0] < 1 || range[1] > 65535 || range[0] > range[1])
    throw new VmigError('USAGE', `${option} takes FROM-TO within 1-65535, not "${value}"`);
  return range;
}

/** `vda,vdb` -> ['vda', 'vdb'], each a disk target. */
export function parseDiskTargets(value: string, option = '--migrate-disks'): string[] {
  const targets = value.split(',').map((target) => target.trim());
  for (const target of targets) {
    if (!DISK_TARGET_PATTERN.test(target))
      throw new VmigError('USAGE', `${option} takes disk targets such as vda,vdb, not "${target}"`);
  }
  return targets;
}

function parseSpec(spec: ValueSpec, value: unknown, option: string): unknown {
  switch (spec.kind) {
    case 'switch':
      return value === true;
    case 'int':
      return parseWholeNumber(value, option, spec.min, spec.max, spec.unit);
    case 'choice':
      if (!spec.choices.includes(String(value)))
        throw new VmigError('USAGE', `${option} takes ${spec.choices.join(', ')}, not "${String(value)}"`);
      return String(value);
    case 'text':
      if (String(value).trim() === '') throw new VmigError('USAGE', `${option} takes a non-empty value`);
      return String(value);
    case 'port-range':
      return parsePortRange(String(value), option);
    case 'uri':
      return parseMigrateUri(String(value));
    case 'disk-targets':
      return parseDiskTargets(String(value), option);
    case 'storage-map':
      // Commander collects a repeated flag into a list (options/commander.ts).
      return parseStorageMap((Array.isArray(value) ? value : [value]).map(String));
  }
}

/** The flag's value as the table says it is typed, or undefined when the flag was not given. */
export function parseFlag(row: MigrationOption, flags: Record<string, unknown>): unknown {
  const value = flags[row.key];
  if (value === undefined || (row.value.kind === 'switch' && value !== true)) return undefined;
  return parseSpec(row.value, value, longFlag(row.flag));
}
