// Guests and destinations for the evacuation planning tests.
import type { DestinationFacts, EvacGuest } from '../../../src/controller/evacuate-plan.js';

export const guest = (name: string, memoryMiB = 64, state = 'running'): EvacGuest => ({ name, memoryMiB, state });

/** A destination with 16 GiB available and 64 MiB of its own headroom, unless `facts` says otherwise. */
export const host = (name: string, facts: Partial<DestinationFacts> = {}): DestinationFacts => ({
  host: name,
  memAvailableMiB: 16_384,
  hostHeadroomMiB: 64,
  guests: [],
  ...facts,
});
