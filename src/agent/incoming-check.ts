// Prepare's judgement of a definition that arrived from a source (see domain/incoming-policy.ts): the host
// facts it needs are gathered here, the decision is pure. Runs before anything is created on this host.
import { realpath, stat } from 'node:fs/promises';
import type { DomainDefinition } from '../domain/definition.js';
import { judgeStoredDefinition, refuseExtraArgs, refuseHostFile, type HostFile } from '../domain/incoming-policy.js';
import { VmigError } from '../errors.js';
import type { AgentContext } from './context.js';
import { readDefinition } from './domains.js';
import { incomingPolicy, type HostConfig } from './host-config.js';

async function hostFile(role: HostFile['role'], path: string): Promise<HostFile> {
  try {
    const real = await realpath(path);
    const info = await stat(real);
    return { role, path, real, regular: info.isFile(), mode: info.mode & 0o7777 };
  } catch {
    // Missing: the existence check (checkHostCanRun) names it.
    return { role, path };
  }
}

/** The host policy: extraArgs and the files the definition names. */
export async function checkIncomingPolicy(
  context: AgentContext,
  definition: DomainDefinition,
  config: HostConfig,
): Promise<void> {
  const policy = incomingPolicy(config);
  const refuse = (reason: string) =>
    new VmigError('DEFINITION_REFUSED', `${context.host} refuses domain ${definition.name} from the source: ${reason}`);
  const extra = refuseExtraArgs(definition.extraArgs, policy.extraArgs);
  if (extra) throw refuse(extra);
  const files: Array<[HostFile['role'], string | undefined]> = [
    ['kernel', definition.kernel],
    ['initrd', definition.initrd],
    ...definition.disks.map((disk) => ['disk', disk.path] as [HostFile['role'], string]),
  ];
  for (const [role, path] of files) {
    if (path === undefined) continue;
    // The lexical check first: a refused path is not even looked up (no probing of this host's files).
    const lexical = refuseHostFile({ role, path }, policy);
    if (lexical) throw refuse(lexical);
    const found = refuseHostFile(await hostFile(role, path), policy);
    if (found) throw refuse(found);
  }
}

/** A definition of the same name stored here: refused if it is another guest (uuid), or differs without --force-definition. */
export async function checkStoredDefinition(
  context: AgentContext,
  definition: DomainDefinition,
  force: boolean,
): Promise<void> {
  const stored = await readDefinition(context, definition.name);
  const verdict = judgeStoredDefinition(stored, definition, force, `on ${context.host}`);
  if (!verdict.ok) throw new VmigError('DEFINITION_REFUSED', `domain ${definition.name} ${verdict.reason}`);
}
