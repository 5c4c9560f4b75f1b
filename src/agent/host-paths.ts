// Whether this host has the files a domain needs (kernel, initrd, disks), checked before QEMU is started.
import { access, constants } from 'node:fs/promises';
import { requiredPaths, type DomainDefinition } from '../domain/definition.js';

/** The files of `definition` this host cannot read, in definition order. */
export async function missingPaths(definition: DomainDefinition): Promise<string[]> {
  const missing: string[] = [];
  for (const path of requiredPaths(definition)) {
    try {
      await access(path, constants.R_OK);
    } catch {
      missing.push(path);
    }
  }
  return missing;
}
