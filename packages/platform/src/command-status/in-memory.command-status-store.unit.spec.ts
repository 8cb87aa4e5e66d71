import { describeCommandStatusStore } from '../testing';
import { InMemoryCommandStatusStore } from './in-memory.command-status-store';

describeCommandStatusStore(
  'in-memory',
  async ({ retentionMs }) => new InMemoryCommandStatusStore({ retentionMs }),
);
