// Everything an agent's handlers share for one controller session.
import type { EventData, EventName } from '../protocol/methods.js';
import type { Instances } from './instances.js';
import type { Journal } from './journal.js';
import type { Locks } from './locks.js';
import type { StateDir } from './state.js';

export interface AgentContext {
  state: StateDir;
  instances: Instances;
  locks: Locks;
  journal: Journal;
  /** How this host names itself in messages. */
  host: string;
  hostId: string;
  /** The local address the controller's SSH connection arrived on: what a source can most likely reach. */
  arrivalAddress: string | undefined;
  emit<E extends EventName>(event: E, data: EventData<E>): void;
  log(message: string): void;
}
