// The QEMU capabilities and parameters of a migration, on one side, walked from the options table's `qemu`
// mappings (libvirt's qemuMigrationParamsFlagMap/TPMap): no option is named here.
import { MIGRATION_OPTIONS, type QemuInputs } from './table.js';

export interface Capability {
  capability: string;
  state: boolean;
}

export interface QemuSettings {
  capabilities: Capability[];
  parameters: Record<string, unknown>;
}

/** Always on: the destination refuses a stream of another guest (validate-uuid); QEMU reports by events. */
const ALWAYS: Capability[] = [
  { capability: 'validate-uuid', state: true },
  { capability: 'events', state: true },
];

/** What to give `migrate-set-capabilities` and `migrate-set-parameters` on `side` before the stream starts. */
export function qemuSettings(side: 'source' | 'destination', inputs: QemuInputs): QemuSettings {
  const capabilities = [...ALWAYS];
  // With copied disks QEMU waits before the switch-over, so that the mirrors complete while the guest is paused.
  // Always set: the capability outlives this migration in the QEMU process.
  if (side === 'source')
    capabilities.push({ capability: 'pause-before-switchover', state: inputs.copiesDisks === true });
  const parameters: Record<string, unknown> = {};
  for (const row of MIGRATION_OPTIONS) {
    if (!row.qemu || (row.side !== side && row.side !== 'both')) continue;
    const { capability, parameters: mapped = {} } = row.qemu;
    if (capability) capabilities.push({ capability: capability.name, state: capability.on(inputs) });
    for (const [name, value] of Object.entries(mapped)) {
      const set = value(inputs);
      if (set !== undefined) parameters[name] = set;
    }
  }
  return { capabilities, parameters };
}
