import { describeProgressStatuses, CONFORMANCE_TTL_MS } from './progress-statuses.conformance';
import { InMemoryProgressStatuses } from './in-memory.progress-statuses';

describeProgressStatuses(
  'in-memory',
  async () => new InMemoryProgressStatuses({ ttlMs: CONFORMANCE_TTL_MS }),
);
