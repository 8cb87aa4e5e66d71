import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { describeCommandRedelivery } from '../../test/fixtures/command-redelivery.scenarios';

// Against the real in-memory stores; test/command-handler.redelivery.int.spec.ts runs the same
// scenarios on Redis and MongoDB.
describeCommandRedelivery('in-memory', async () => ({
  store: new InMemoryEventStore(),
  snapshots: new InMemorySnapshotStore(),
}));
