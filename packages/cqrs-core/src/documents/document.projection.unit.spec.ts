import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemoryReadStore } from '../read-stores/in-memory.read-store';
import { documentCollection } from './document.collection';
import { documentProjection } from './document.projection';
import { DocumentStore } from './document.store';

// The rows a documentProjection keeps, applying the stored events one by one as a runner would
// (at least once: a redelivery comes again after later events).
describe('documentProjection', () => {
  const users = documentCollection<{ name: string; email?: string }>('users', {
    aggregateType: 'User',
  });
  // Another collection whose events have the same type names (the same aggregateType).
  const staff = documentCollection<{ name: string }>('staff', { aggregateType: 'User' });

  async function history() {
    const eventStore = new InMemoryEventStore();
    const documents = new DocumentStore({ eventStore });
    await documents.update(users, 'ash', () => ({ name: 'Ash', email: 'a@x' }));
    await documents.update(staff, 'ash', () => ({ name: 'Professor Ash' }));
    await documents.update(users, 'ash', (user) => ({ ...user!, email: 'b@x' }));
    await documents.update(users, 'misty', () => ({ name: 'Misty' }));
    await documents.delete(users, 'misty');
    return eventStore.readAll({ limit: 100 });
  }

  it('keeps each document of its collection as a row, and nothing of another collection', async () => {
    const rows = new InMemoryReadStore();
    const projection = documentProjection(users, rows);
    for (const event of await history()) await projection.apply(event);
    expect(projection.name).toBe('documents-users');
    expect(await rows.find()).toEqual([{ name: 'Ash', email: 'b@x' }]);
  });

  it('changes nothing when an event comes again after later ones', async () => {
    const rows = new InMemoryReadStore();
    const projection = documentProjection(users, rows);
    const events = await history();
    for (const event of events) await projection.apply(event);
    // Redelivered: Ash's creation and Misty's creation (deleted since: no tombstone, so it is
    // back until her Deleted comes again, as a runner redelivers everything after it in order).
    const ashCreated = events.find((e) => e.streamId === 'users-ash' && e.version === 1)!;
    await projection.apply(ashCreated);
    expect(await rows.get('ash')).toEqual({ name: 'Ash', email: 'b@x' });
    for (const event of events.filter((e) => e.streamId === 'users-misty'))
      await projection.apply(event);
    expect(await rows.get('misty')).toBeUndefined();
  });

  it('empties its rows on reset, for a rebuild', async () => {
    const rows = new InMemoryReadStore();
    const projection = documentProjection(users, rows, { name: 'user-rows' });
    for (const event of await history()) await projection.apply(event);
    await projection.reset!();
    expect(await rows.count()).toBe(0);
    expect(projection.name).toBe('user-rows');
  });
  it('never shows a document made of a patch alone while events of a deleted one come again', async () => {
    const eventStore = new InMemoryEventStore();
    const documents = new DocumentStore({ eventStore });
    await documents.update(users, 'misty', () => ({ name: 'Misty', email: 'm@x' }));
    await documents.update(users, 'misty', (user) => ({ ...user!, email: 'm2@x' }));
    await documents.update(users, 'ash', () => ({ name: 'Ash' })); // other streams in between
    await documents.delete(users, 'misty');
    const events = await eventStore.readAll({ limit: 100 });
    const rows = new InMemoryReadStore();
    const projection = documentProjection(users, rows);
    for (const event of events) await projection.apply(event);
    // A runner restarting from the checkpoint after misty's Created: the rest comes again, in
    // order, while readers query the rows.
    const seen: unknown[] = [];
    for (const event of events.slice(1)) {
      await projection.apply(event);
      seen.push(...(await rows.find()));
    }
    expect(seen.filter((row) => !(row as { name?: string }).name)).toEqual([]);
    expect(await rows.find()).toEqual([{ name: 'Ash' }]);
  });
});
