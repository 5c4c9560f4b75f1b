// The agent protocol: what controller and agent say to each other over the agent's stdio.
// Request/response with ids, plus one-way events from the agent (progress of a running job).
import { z } from 'zod';

/** Bumped on any incompatible change; controller and agent refuse to talk across versions. */
export const PROTOCOL_VERSION = 1;

export const requestSchema = z.object({
  id: z.number().int(),
  method: z.string(),
  params: z.unknown().optional(),
});
export const responseSchema = z.union([
  z.object({ id: z.number().int(), result: z.unknown() }),
  z.object({ id: z.number().int(), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export const eventSchema = z.object({ event: z.string(), data: z.unknown() });

export type Request = z.infer<typeof requestSchema>;
export type Response = z.infer<typeof responseSchema>;
export type AgentEvent = z.infer<typeof eventSchema>;

export type Message =
  | { kind: 'request'; request: Request }
  | { kind: 'response'; response: Response }
  | { kind: 'event'; event: AgentEvent };

/** Classifies one decoded line; returns undefined for anything that is not a protocol message. */
export function classifyMessage(value: unknown): Message | undefined {
  const request = requestSchema.safeParse(value);
  if (request.success) return { kind: 'request', request: request.data };
  const response = responseSchema.safeParse(value);
  if (response.success) return { kind: 'response', response: response.data };
  const event = eventSchema.safeParse(value);
  if (event.success) return { kind: 'event', event: event.data };
  return undefined;
}
