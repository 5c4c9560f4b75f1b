// Agent handlers for the domain lifecycle: define, undefine, start, destroy, list, dominfo, monitor passthrough.
import { readdir, readFile } from 'node:fs/promises';
import { assertDomainName, parseDomain, type DomainDefinition } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { QmpCommandError } from '../qemu/qmp-protocol.js';
import { qmpOnce } from '../qemu/qmp.js';
import { readJsonOrUndefined, unlinkIfPresent, writeFileDurable } from '../util/fs.js';
import type { HandlerGroup } from '../protocol/table.js';
import type { DomainInfo, DomainSummary } from '../protocol/wire.js';
import type { AgentContext } from './context.js';
import { loadHostConfig } from './host-config.js';
import { missingPaths } from './host-paths.js';

function checkedName({ name }: { name: string }): string {
  assertDomainName(name);
  return name;
}

export async function readDefinition(context: AgentContext, name: string): Promise<DomainDefinition | undefined> {
  const raw = await readJsonOrUndefined<unknown>(context.state.definitionPath(name));
  return raw === undefined ? undefined : parseDomain(raw, `stored definition of ${name}`);
}

export async function writeDefinition(context: AgentContext, definition: DomainDefinition): Promise<void> {
  await writeFileDurable(context.state.definitionPath(definition.name), `${JSON.stringify(definition, null, 2)}\n`);
}

async function definedNames(context: AgentContext): Promise<string[]> {
  try {
    return (await readdir(context.state.domainsDir))
      .filter((file) => file.endsWith('.json'))
      .map((file) => file.slice(0, -5));
  } catch {
    return [];
  }
}

export type DomainMethod =
  | 'domain.define'
  | 'domain.undefine'
  | 'domain.start'
  | 'domain.destroy'
  | 'domain.list'
  | 'domain.info'
  | 'domain.definition'
  | 'domain.monitor'
  | 'host.info';

export function domainHandlers(context: AgentContext): HandlerGroup<DomainMethod> {
  const { instances } = context;

  return {
    async 'domain.define'(params) {
      const definition = parseDomain(params.definition);
      const existing = await readDefinition(context, definition.name);
      if (
        existing &&
        existing.uuid !== definition.uuid &&
        (params.definition as { uuid?: string }).uuid !== undefined
      ) {
        throw new VmigError(
          'DOMAIN_EXISTS',
          `domain ${definition.name} is already defined on ${context.host} with uuid ${existing.uuid}`,
        );
      }
      // Redefining keeps the uuid: a guest's identity must not change because its file was edited.
      const stored = existing ? { ...definition, uuid: existing.uuid } : definition;
      for (const name of await definedNames(context)) {
        if (name === stored.name) continue;
        const other = await readDefinition(context, name).catch(() => undefined);
        if (other?.uuid === stored.uuid)
          throw new VmigError(
            'DOMAIN_EXISTS',
            `uuid ${stored.uuid} is already used by domain ${name} on ${context.host}`,
          );
      }
      await writeDefinition(context, stored);
      // Defined all the same (the files may come later), but said now rather than at start.
      const warnings = (await missingPaths(stored)).map(
        (path) =>
          `${context.host} lacks ${path}, which domain ${stored.name} needs: it cannot start there until the file exists`,
      );
      return { name: stored.name, uuid: stored.uuid, updated: existing !== undefined, warnings };
    },

    async 'domain.undefine'(params) {
      const name = checkedName(params);
      const definition = await readDefinition(context, name);
      if (!definition) throw new VmigError('DOMAIN_NOT_FOUND', `domain ${name} is not defined on ${context.host}`);
      await unlinkIfPresent(context.state.definitionPath(name));
      const running = await instances.find(name);
      return { name, stillRunning: running !== undefined };
    },

    async 'domain.start'(params) {
      const name = checkedName(params);
      const paused = params.paused === true;
      const definition = await readDefinition(context, name);
      if (!definition) throw new VmigError('DOMAIN_NOT_FOUND', `domain ${name} is not defined on ${context.host}`);
      // The same check Prepare makes, before anything is started: a missing file is bad input, not a QEMU failure.
      // (A running domain is reported as running, not as lacking a file it no longer needs.)
      const [missing] = (await instances.find(name)) ? [] : await missingPaths(definition);
      if (missing !== undefined)
        throw new VmigError('HOST_UNSUITABLE', `${context.host} lacks ${missing}, which domain ${name} needs`);
      const instance = await instances.start(definition, { paused });
      return { name, pid: instance.pid, accel: instance.accel };
    },

    async 'domain.destroy'(params) {
      const name = checkedName(params);
      const instance = await instances.find(name);
      if (!instance) throw new VmigError('DOMAIN_NOT_RUNNING', `domain ${name} is not running on ${context.host}`);
      if (await context.locks.heldBy(name)) {
        throw new VmigError(
          'LOCKED',
          `domain ${name} is being migrated; abort the migration first (vmig domjobabort ${name})`,
        );
      }
      await instances.stop(instance);
      return { name };
    },

    async 'domain.list'(params) {
      const all = params.all === true;
      const running = await instances.all();
      const persistentNames = new Set(await definedNames(context));
      const rows: DomainSummary[] = [];
      for (const instance of running) {
        const { state, problem } = await instances.status(instance);
        rows.push({
          name: instance.definition.name,
          uuid: instance.definition.uuid,
          state,
          persistent: persistentNames.has(instance.definition.name),
          ...(problem ? { problem } : {}),
        });
      }
      if (all) {
        for (const name of persistentNames) {
          if (running.some((instance) => instance.definition.name === name)) continue;
          const definition = await readDefinition(context, name).catch(() => undefined);
          if (definition) rows.push({ name, uuid: definition.uuid, state: 'shut off', persistent: true });
        }
      }
      return rows.sort((a, b) => a.name.localeCompare(b.name));
    },

    async 'domain.info'(params): Promise<DomainInfo> {
      const name = checkedName(params);
      const instance = await instances.find(name);
      const definition = instance?.definition ?? (await readDefinition(context, name));
      if (!definition)
        throw new VmigError('DOMAIN_NOT_FOUND', `domain ${name} is not defined or running on ${context.host}`);
      const persistent = (await readJsonOrUndefined(context.state.definitionPath(name))) !== undefined;
      const base = {
        name,
        uuid: definition.uuid,
        memoryMiB: definition.memoryMiB,
        vcpus: definition.vcpus,
        machine: definition.machine,
        persistent,
      };
      if (!instance) return { ...base, state: 'shut off', accel: definition.accel };
      const { state, qemuStatus, problem } = await instances.status(instance);
      if (problem) throw new VmigError('QEMU_FAILED', problem);
      return { ...base, state, accel: instance.accel, pid: instance.pid, startedAt: instance.startedAt, qemuStatus };
    },

    async 'domain.definition'(params) {
      const name = checkedName(params);
      const instance = await instances.find(name);
      const definition = instance?.definition ?? (await readDefinition(context, name));
      if (!definition) throw new VmigError('DOMAIN_NOT_FOUND', `domain ${name} is not defined on ${context.host}`);
      return definition;
    },

    async 'domain.monitor'(params) {
      const { command } = params;
      const name = checkedName(params);
      let parsed: { execute?: unknown; arguments?: unknown };
      try {
        parsed = JSON.parse(command) as typeof parsed;
      } catch {
        throw new VmigError(
          'USAGE',
          'the monitor command is not valid JSON (expected e.g. {"execute":"query-status"})',
        );
      }
      if (typeof parsed?.execute !== 'string')
        throw new VmigError('USAGE', 'the monitor command needs an "execute" member');
      if (parsed.execute === 'qmp_capabilities') return {};
      const instance = await instances.find(name);
      if (!instance) throw new VmigError('DOMAIN_NOT_RUNNING', `domain ${name} is not running on ${context.host}`);
      try {
        const args = parsed.arguments as Record<string, unknown> | undefined;
        return { return: await qmpOnce(instance.paths.userQmpSocket, parsed.execute, args, 10_000) };
      } catch (error) {
        if (error instanceof QmpCommandError)
          return { error: { class: error.errorClass, desc: error.message.slice(error.command.length + 2) } };
        throw new VmigError('QEMU_FAILED', `QEMU monitor of ${name} on ${context.host}: ${(error as Error).message}`);
      }
    },

    async 'host.info'() {
      const meminfo = await readFile('/proc/meminfo', 'utf8');
      const field = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
      const running = await instances.all();
      // The limits Prepare enforces (host.toml), so that a planner (evacuate) can respect them up front.
      const config = await loadHostConfig();
      return {
        host: context.host,
        memTotalBytes: field('MemTotal'),
        memAvailableBytes: field('MemAvailable'),
        memoryHeadroomMiB: config.memory_headroom_mib,
        ...(config.guest_memory_limit_mib !== undefined ? { guestMemoryLimitMiB: config.guest_memory_limit_mib } : {}),
        guests: running.map((instance) => ({
          name: instance.definition.name,
          memoryMiB: instance.definition.memoryMiB,
        })),
      };
    },
  };
}
