import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentContext } from '../../../src/agent/context.js';
import { agentHandlers } from '../../../src/agent/handlers.js';
import { hostCheckHandlers } from '../../../src/agent/host-checks.js';
import { Instances } from '../../../src/agent/instances.js';
import { Journal } from '../../../src/agent/journal.js';
import { Locks } from '../../../src/agent/locks.js';
import { MigrationRegistry } from '../../../src/agent/migration-state.js';
import { StateDir } from '../../../src/agent/state.js';
import { VmigError } from '../../../src/errors.js';
import { PROTOCOL_VERSION } from '../../../src/protocol/messages.js';
import { events, methods, type Method } from '../../../src/protocol/methods.js';
import { RpcConnection } from '../../../src/protocol/rpc.js';
import {
  checkResult,
  dispatchTable,
  parseEvent,
  typedCall,
  type AgentHandlers,
  type Call,
} from '../../../src/protocol/table.js';

const opened: RpcConnection[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const end of opened.splice(0)) end.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function fakeContext(): Promise<AgentContext> {
  const dir = await mkdtemp(join(tmpdir(), 'vmig-methods-'));
  dirs.push(dir);
  const state = new StateDir(dir);
  const context: AgentContext = {
    state,
    instances: new Instances(state, () => 'h1'),
    locks: new Locks(state, () => 'h1'),
    journal: new Journal(state),
    host: 'h1',
    hostId: '',
    arrivalAddress: undefined,
    emit: () => undefined,
    log: () => undefined,
  };
  return context;
}

/** A typed controller call() against an agent serving `handlers`, wired back to back. */
function link(handlers: Partial<AgentHandlers>): Call {
  const toAgent = new PassThrough();
  const toController = new PassThrough();
  const complete = Object.fromEntries(
    (Object.keys(methods) as Method[]).map((method) => [
      method,
      handlers[method] ??
        (async () => {
          throw new VmigError('INTERNAL', `${method} not faked`);
        }),
    ]),
  ) as AgentHandlers;
  const controller = new RpcConnection(toController, toAgent, { peer: 'h1' });
  const agent = new RpcConnection(toAgent, toController, { peer: 'controller', handlers: dispatchTable(complete) });
  opened.push(controller, agent);
  return typedCall((method, params) => controller.call(method, params), 'h1');
}

describe('the method table', () => {
  it('has exactly one agent handler per method, and nothing else', async () => {
    const context = await fakeContext();
    const handlers = agentHandlers(context, new MigrationRegistry(), hostCheckHandlers(context).handlers);
    expect(Object.keys(handlers).sort()).toEqual(Object.keys(methods).sort());
  });

  it('names methods as concern.verb (plus hello and ping)', () => {
    for (const method of Object.keys(methods)) expect(method).toMatch(/^(hello|ping|[a-z]+\.[a-zA-Z-]+)$/);
  });

  it('parses params before the handler runs: defaults are filled in', async () => {
    let seen: unknown;
    const call = link({
      'migrate.finish': async (params) => {
        seen = params;
        return { name: 'web1', state: 'running' };
      },
    });
    await call('migrate.finish', { migrationId: 'm-12345678' });
    expect(seen).toEqual({
      migrationId: 'm-12345678',
      suspend: false,
      persistent: false,
      timeoutMs: 60_000,
      postcopy: false,
    });
  });

  it('refuses bad params before the handler runs', async () => {
    let ran = false;
    const call = link({
      'job.setSpeed': async () => {
        ran = true;
        return { name: 'web1', migrationId: 'm', bandwidthMiBs: 1 };
      },
    });
    const error = await call('job.setSpeed', { name: 'web1', bandwidthMiBs: -1 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(VmigError);
    expect((error as VmigError).message).toContain('job.setSpeed');
    expect(ran).toBe(false);
  });

  it('lets a method without params be called without them', async () => {
    const call = link({ ping: async () => ({}) });
    await expect(call('ping')).resolves.toEqual({});
  });

  it('checks each result on arrival: a malformed one is a protocol mismatch naming the method', async () => {
    const call = link({
      'domain.list': async () => [{ name: 'web1', uuid: 'u', state: 'flying', persistent: true }] as never,
    });
    const error = await call('domain.list', {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(VmigError);
    expect((error as VmigError).code).toBe('PROTOCOL_MISMATCH');
    expect((error as VmigError).message).toMatch(/h1 answered domain.list with an unexpected result \(0.state/);
  });

  it('returns a result as received, fields the schema does not name included', () => {
    const value = { name: 'web1', pid: 4, accel: 'tcg', extra: 1 };
    expect(checkResult('domain.start', value, 'h1')).toBe(value);
  });

  it('types params and results from the table', async () => {
    const call = link({
      'domain.info': async ({ name }) => ({
        name,
        uuid: 'u',
        state: 'running',
        persistent: true,
        memoryMiB: 64,
        vcpus: 1,
        machine: 'q35',
        accel: 'tcg',
      }),
    });
    const info = await call('domain.info', { name: 'web1' });
    // Compile-time checks (tsconfig.test.json): a result field is typed, a missing required param is an error.
    const memory: number = info.memoryMiB;
    expect(memory).toBe(64);
    // @ts-expect-error name is required
    await call('domain.info', {}).catch(() => undefined);
    // @ts-expect-error no such method
    await call('domain.fly', {}).catch(() => undefined);
  });

  it('keeps hello able to refuse any other protocol version in its own words', async () => {
    const context = await fakeContext();
    const handlers = agentHandlers(context, new MigrationRegistry(), hostCheckHandlers(context).handlers);
    const call = link({ hello: handlers.hello });
    const error = await call('hello', { protocol: PROTOCOL_VERSION + 1, version: '9.9.9' }).catch(
      (caught: unknown) => caught,
    );
    expect((error as VmigError).code).toBe('PROTOCOL_MISMATCH');
    expect((error as VmigError).message).toContain(
      `speaks agent protocol ${PROTOCOL_VERSION}, the controller speaks ${PROTOCOL_VERSION + 1}`,
    );
  });
});

describe('agent events', () => {
  const progress = {
    migrationId: 'm1',
    status: 'active',
    pass: 1,
    transferredBytes: 1,
    remainingBytes: 2,
    totalBytes: 3,
    throughputBps: 4,
    dirtyRateBps: 5,
    elapsedMs: 6,
  };

  it('types a known event and keeps its data as sent', () => {
    const event = parseEvent({ event: 'migration.progress', data: progress });
    expect(event?.event).toBe('migration.progress');
    expect(event?.data).toBe(progress);
  });

  it('ignores unknown and malformed events, as the controller always did', () => {
    expect(parseEvent({ event: 'migration.fly', data: {} })).toBeUndefined();
    expect(parseEvent({ event: 'migration.warning', data: { migrationId: 'm1' } })).toBeUndefined();
    expect(parseEvent({ event: 'toString', data: {} })).toBeUndefined();
  });

  it('costs next to nothing per progress event', () => {
    const rounds = 20_000;
    const started = process.hrtime.bigint();
    for (let index = 0; index < rounds; index++) events['migration.progress'].safeParse(progress);
    const perEventUs = Number(process.hrtime.bigint() - started) / 1000 / rounds;
    // Progress arrives every 500 ms; even 100 µs would be 0.02% of one core.
    expect(perEventUs).toBeLessThan(100);
  });
});
