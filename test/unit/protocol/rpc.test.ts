import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VmigError } from '../../../src/errors.js';
import type { AgentEvent } from '../../../src/protocol/messages.js';
import { RpcConnection, type Handler } from '../../../src/protocol/rpc.js';

const opened: RpcConnection[] = [];
afterEach(() => {
  for (const end of opened.splice(0)) end.close();
});

/** A controller and an agent wired back to back, as over an SSH channel's two directions. */
function pair(handlers: Record<string, Handler>) {
  const toAgent = new PassThrough();
  const toController = new PassThrough();
  const events: AgentEvent[] = [];
  const closes: Array<Error | undefined> = [];
  const controller = new RpcConnection(toController, toAgent, { peer: 'h1', onEvent: (event) => events.push(event) });
  const agent = new RpcConnection(toAgent, toController, {
    peer: 'controller',
    handlers,
    onClose: (reason) => closes.push(reason),
  });
  opened.push(controller, agent);
  return { controller, agent, events, closes, toAgent, toController };
}

async function rejection(promise: Promise<unknown>): Promise<VmigError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(VmigError);
  return error as VmigError;
}

describe('RpcConnection', () => {
  it('answers a call with the handler result', async () => {
    const { controller } = pair({
      add: async (params) => (params as number[]).reduce((a, b) => a + b, 0),
      nothing: async () => undefined,
    });
    await expect(controller.call('add', [1, 2, 3])).resolves.toBe(6);
    await expect(controller.call('nothing')).resolves.toBeNull();
  });

  it('carries a VmigError code across, tagged with the peer', async () => {
    const { controller } = pair({
      start: async () => {
        throw new VmigError('DOMAIN_NOT_FOUND', 'no domain "web9"');
      },
    });
    const error = await rejection(controller.call('start', { name: 'web9' }));
    expect(error).toMatchObject({ code: 'DOMAIN_NOT_FOUND', message: 'no domain "web9"', host: 'h1', exitCode: 2 });
  });

  it('turns any other error into INTERNAL naming the method', async () => {
    const { controller } = pair({
      start: async () => {
        throw new TypeError('cannot read properties of undefined');
      },
    });
    const error = await rejection(controller.call('start'));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toBe('start: cannot read properties of undefined');
  });

  it('answers an unknown method with PROTOCOL_MISMATCH', async () => {
    const { controller } = pair({});
    const error = await rejection(controller.call('evacuate'));
    expect(error.code).toBe('PROTOCOL_MISMATCH');
    expect(error.message).toContain('evacuate');
  });

  it('does not treat Object.prototype members as methods', async () => {
    const { controller } = pair({});
    for (const method of ['toString', 'constructor', 'hasOwnProperty']) {
      expect((await rejection(controller.call(method))).code).toBe('PROTOCOL_MISMATCH');
    }
  });

  it('delivers events to the other end', async () => {
    const { controller, agent, events } = pair({
      migrate: async () => {
        agent.emit('progress', { pass: 1 });
        return 'done';
      },
    });
    await expect(controller.call('migrate')).resolves.toBe('done');
    expect(events).toEqual([{ event: 'progress', data: { pass: 1 } }]);
  });

  it('close() rejects pending calls, and later calls, with AGENT_FAILED', async () => {
    const { controller } = pair({ wait: () => new Promise(() => undefined) });
    const pending = controller.call('wait');
    controller.close();
    expect(controller.isClosed).toBe(true);
    expect((await rejection(pending)).code).toBe('AGENT_FAILED');
    expect((await rejection(controller.call('wait'))).message).toContain('h1');
  });

  it('aborts running handlers when the connection closes under them', async () => {
    let signal: AbortSignal | undefined;
    let entered!: () => void;
    const started = new Promise<void>((resolve) => (entered = resolve));
    const { controller, closes, toAgent } = pair({
      wait: (_params, context) => {
        signal = context.signal;
        entered();
        return new Promise(() => undefined);
      },
    });
    void controller.call('wait').catch(() => undefined);
    await started;
    expect(signal?.aborted).toBe(false);
    toAgent.end(); // the controller went away
    await new Promise((resolve) => setImmediate(resolve));
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: 'AGENT_FAILED' });
    expect(closes).toHaveLength(1);
  });

  it('closes with PROTOCOL_MISMATCH when the peer sends garbage', async () => {
    const { closes, toAgent, agent } = pair({});
    toAgent.write('Welcome to Ubuntu!\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(agent.isClosed).toBe(true);
    expect(closes[0]).toMatchObject({ code: 'PROTOCOL_MISMATCH' });
  });
  it('answers the requests before a malformed line of the same chunk, then closes', async () => {
    const toAgent = new PassThrough();
    const toController = new PassThrough();
    const served: string[] = [];
    const closes: Array<Error | undefined> = [];
    const agent = new RpcConnection(toAgent, toController, {
      peer: 'controller',
      handlers: { note: async (params) => void served.push(String(params)) },
      onClose: (reason) => closes.push(reason),
    });
    opened.push(agent);
    const replies: string[] = [];
    toController.on('data', (chunk: Buffer) => replies.push(chunk.toString()));
    toAgent.write(
      '{"id":1,"method":"note","params":"a"}\n{"id":2,"method":"note","params":"b"}\n}{ garbage\n{"id":3,"method":"note","params":"c"}\n',
    );
    await vi.waitFor(() => expect(agent.isClosed).toBe(true));
    expect(served).toEqual(['a', 'b']);
    expect(replies.join('')).toBe('{"id":1,"result":null}\n{"id":2,"result":null}\n');
    expect(closes[0]).toMatchObject({ code: 'PROTOCOL_MISMATCH' });
  });

  it('with an opening method, serves nothing else before it has succeeded', async () => {
    const served: string[] = [];
    let helloOk = false;
    const toAgent = new PassThrough();
    const toController = new PassThrough();
    const controller = new RpcConnection(toController, toAgent, { peer: 'h1' });
    const agent = new RpcConnection(toAgent, toController, {
      peer: 'controller',
      opening: 'hello',
      handlers: {
        hello: async () => {
          if (!helloOk) throw new VmigError('PROTOCOL_MISMATCH', 'wrong protocol');
          return 'hi';
        },
        destroy: async () => void served.push('destroy'),
      },
    });
    opened.push(controller, agent);
    expect((await rejection(controller.call('destroy'))).message).toBe('destroy before a successful hello: refused');
    expect((await rejection(controller.call('hello'))).message).toBe('wrong protocol');
    expect((await rejection(controller.call('destroy'))).message).toBe('destroy before a successful hello: refused');
    // Pipelined behind a hello that has not answered yet: still refused.
    helloOk = true;
    const [hello, early] = await Promise.allSettled([controller.call('hello'), controller.call('destroy')]);
    expect(hello).toMatchObject({ status: 'fulfilled', value: 'hi' });
    expect(early).toMatchObject({ status: 'rejected', reason: { code: 'PROTOCOL_MISMATCH' } });
    expect(served).toEqual([]);
    await controller.call('destroy');
    expect(served).toEqual(['destroy']);
  });
  it('fails a call the peer does not answer within its deadline, naming peer and method; a late answer is dropped', async () => {
    let release!: () => void;
    let calls = 0;
    const { controller } = pair({
      'domain.list': () =>
        ++calls === 1 ? new Promise((resolve) => (release = () => resolve(['late']))) : Promise.resolve([]),
    });
    const started = Date.now();
    const error = await rejection(controller.call('domain.list', {}, 200));
    expect(error).toMatchObject({ code: 'AGENT_FAILED', message: 'h1 did not answer domain.list within 0.2 s' });
    expect(Date.now() - started).toBeLessThan(3_000);
    release();
    await expect(controller.call('domain.list', {}, 2_000)).resolves.toEqual([]);
  });
});
