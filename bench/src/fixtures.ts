import { type Envelope, MessageFactory } from '@causeway/cqrs-core';

const factory = new MessageFactory({ issuerId: 'bench', issuerType: 'service' });

/**
 * A realistic event like the reference system's TrainerMoved: ~220 bytes of data (ids, a
 * position, a short list), ~700 bytes on the wire. Every benchmark and its raw baseline carry
 * the same envelopes.
 */
export function sampleEvent(aggregateId: string, n: number): Envelope {
  return factory.event(
    'TrainerMoved',
    {
      trainerId: aggregateId,
      step: n,
      from: { x: n % 97, y: n % 89, zone: 'pallet-town' },
      to: { x: (n + 1) % 97, y: (n + 3) % 89, zone: 'viridian-forest' },
      reason: 'bench: a move requested by the player through the command API',
      tags: ['bench', 'move', 'walk'],
    },
    { aggregateId, aggregateType: 'Trainer', causedBy: null },
  );
}

export function sampleEvents(aggregateId: string, from: number, count: number): Envelope[] {
  return Array.from({ length: count }, (_, i) => sampleEvent(aggregateId, from + i));
}
