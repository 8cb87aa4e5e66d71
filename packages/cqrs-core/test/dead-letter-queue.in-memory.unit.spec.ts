import { InMemoryDeadLetterQueue } from '../src';
import { describeDeadLetterQueueConformance } from '../src/testing';

describeDeadLetterQueueConformance(
  'in-memory',
  async (settings) => new InMemoryDeadLetterQueue({ serializer: settings?.serializer }),
);
