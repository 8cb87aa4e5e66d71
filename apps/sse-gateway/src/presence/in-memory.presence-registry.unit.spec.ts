import { describePresenceRegistry } from './presence-registry.conformance';
import { InMemoryPresenceRegistry } from './in-memory.presence-registry';

describePresenceRegistry('in-memory', async ({ ttlMs }) => new InMemoryPresenceRegistry({ ttlMs }));
