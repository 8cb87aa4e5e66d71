import { InMemoryTokenRevocations } from './in-memory.token-revocations';
import { describeTokenRevocations } from './token-revocations.conformance';

describeTokenRevocations('in-memory', async (count, options) => {
  const shared = new Map<string, number>();
  const peers = new Set<InMemoryTokenRevocations>();
  return Array.from(
    { length: count },
    () => new InMemoryTokenRevocations(shared, peers, options?.keepMs),
  );
});
