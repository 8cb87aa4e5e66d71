import { MessageValidationError, UnknownMessageTypeError } from '@causeway/cqrs-core';
import { randomUUID } from 'node:crypto';
import { contractsSerializer } from './serializer';

describe('contractsSerializer', () => {
  const envelope = (type: string, data: unknown) => ({
    messageId: randomUUID(),
    type,
    aggregateId: 'ash',
    aggregateType: 'Trainer',
    version: 0,
    data,
    metadata: { timestamp: new Date().toISOString() },
  });

  it('round-trips the reference system messages and rejects bad data naming the field', () => {
    const registry = contractsSerializer();
    const command = envelope('MoveTrainerCommand', {
      trainerId: 'ash',
      directionX: 1,
      directionY: 0,
      action: 'start',
      timestamp: 1,
    });
    expect(registry.deserialize(registry.serialize(command)).data).toEqual(command.data);
    expect(() =>
      registry.serialize(
        envelope('MoveTrainerCommand', { ...(command.data as object), action: 'fly' }),
      ),
    ).toThrow(MessageValidationError);
    expect(() => registry.serialize(envelope('Teleport', {}))).toThrow(UnknownMessageTypeError);
  });
});
