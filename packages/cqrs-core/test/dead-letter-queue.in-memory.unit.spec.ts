import { InMemoryDeadLetterQueue } from '../src';
import { describeDeadLetterQueueConformance } from '../src/testing';

describeDeadLetterQueueConformance(
  'in-memory',
  async (settings) =>
    new InMemoryDeadLetterQueue({
      serializer: settings?.serializer,
      claimLeaseMs: settings?.claimLeaseMs,
    }),
);

it('refuses a claim lease that is not a positive integer', () => {
  expect(() => new InMemoryDeadLetterQueue({ claimLeaseMs: 0 })).toThrow(
    'InMemoryDeadLetterQueue: options.claimLeaseMs must be a positive integer, got 0',
  );
});
