// Both ends of the method table: the agent's dispatch (params parsed before a handler runs) and the
// controller's result check (a result that does not match its schema is a protocol error, not a crash later).
import { VmigError } from '../errors.js';
import {
  events,
  methods,
  type EventData,
  type EventName,
  type HandlerResult,
  type Method,
  type Params,
  type ParsedParams,
  type Result,
} from './methods.js';
import type { AgentEvent } from './messages.js';
import type { Handler } from './rpc.js';

export type MethodHandler<M extends Method> = (
  params: ParsedParams<M>,
  context: { signal: AbortSignal },
) => Promise<HandlerResult<M>>;
/** The agent's handler table: exactly one handler per method of the table. */
export type AgentHandlers = { [M in Method]: MethodHandler<M> };
/** A concern's share of the table (e.g. the source side of a migration). */
export type HandlerGroup<M extends Method> = Pick<AgentHandlers, M>;

/** Arguments of call(): params may be left out when the method needs none. */
// biome-ignore lint/complexity/noBannedTypes: {} is exactly "a params object with no required member" here
export type CallArgs<M extends Method> = {} extends Params<M> ? [params?: Params<M>] : [params: Params<M>];
export type Call = <M extends Method>(method: M, ...args: CallArgs<M>) => Promise<Result<M>>;

/** Wraps a complete handler table for the RPC layer: each handler gets its params parsed by the table's schema. */
export function dispatchTable(handlers: AgentHandlers): Record<string, Handler> {
  const table: Record<string, Handler> = {};
  for (const method of Object.keys(methods) as Method[]) {
    const handler = handlers[method] as (params: unknown, context: { signal: AbortSignal }) => Promise<unknown>;
    const schema = methods[method].params;
    table[method] = async (params, context) => handler(schema.parse(params ?? {}), context);
  }
  return table;
}

/** Checks a result against the table; returns it as received (fields the schema does not name are kept). */
export function checkResult<M extends Method>(method: M, value: unknown, peer: string): Result<M> {
  const parsed = methods[method].result.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VmigError(
      'PROTOCOL_MISMATCH',
      `${peer} answered ${method} with an unexpected result (${issue ? `${issue.path.join('.') || 'result'}: ${issue.message}` : 'invalid'})`,
    );
  }
  return value as Result<M>;
}

/** A typed call() over an untyped one: the result type comes from the table, and the result is checked. */
export function typedCall(call: (method: Method, params?: unknown) => Promise<unknown>, peer: string): Call {
  return async (method, ...args) => checkResult(method, await call(method, args[0]), peer);
}

export type TypedEvent = { [E in EventName]: { event: E; data: EventData<E> } }[EventName];

/** An agent event checked against the table; undefined for an unknown or malformed one (ignored, as before). */
export function parseEvent(event: AgentEvent): TypedEvent | undefined {
  if (!Object.hasOwn(events, event.event)) return undefined;
  const name = event.event as EventName;
  const parsed = events[name].safeParse(event.data);
  return parsed.success ? ({ event: name, data: event.data } as TypedEvent) : undefined;
}
