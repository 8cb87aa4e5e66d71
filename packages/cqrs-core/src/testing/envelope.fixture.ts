import { randomUUID } from 'node:crypto';
import { type Envelope } from '../messages/envelope';
import { type Delivery } from '../transport/transport.port';

/** An envelope for tests: defaults for every field, overrides for what the test is about. */
export function testEnvelope<Data>(
  type: string,
  data: Data,
  overrides: Partial<Omit<Envelope<Data>, 'type' | 'data'>> = {},
): Envelope<Data> {
  return {
    messageId: randomUUID(),
    type,
    aggregateId: 'agg-1',
    aggregateType: 'Test',
    version: 0,
    data,
    ...overrides,
    metadata: { timestamp: new Date().toISOString(), ...overrides.metadata },
  };
}

/** A delivery of an envelope, as a transport would hand it to a handler. */
export function testDelivery(
  envelope: Envelope,
  overrides: Partial<Omit<Delivery, 'envelope'>> = {},
): Delivery {
  return {
    topic: `events.${envelope.type}`,
    attempt: 1,
    position: '1',
    group: 'test-group',
    envelope,
    ...overrides,
  };
}
