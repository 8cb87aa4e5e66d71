import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ConcurrencyConflictError } from '../event-store/event-store.errors';
import { type EventStore } from '../event-store/event-store.port';
import { messageType } from '../messages/message.type';
import { documentCollection } from '../documents/document.collection';
import { DocumentHistoryError, DocumentValidationError } from '../documents/document.errors';
import { DocumentStore, type DocumentStoreOptions } from '../documents/document.store';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { SnapshotPolicies } from '../snapshots/snapshot.policy';

/** An event store for one test of the suite; `close` (when given) runs after the test. */
export interface DocumentStoreBackend {
  eventStore: EventStore;
  close?: () => Promise<void>;
}

/**
 * The document store (S4) over one event store backend, run once per backend:
 * `describeDocumentStoreConformance('mongodb', async () => ({ eventStore, close }))`. The change
 * and its events are one append of the backend, so this is what S4-1..S4-4 promise there. Each
 * test uses its own collection names and ids, so backends may share a database.
 */
export function describeDocumentStoreConformance(
  name: string,
  backend: () => Promise<DocumentStoreBackend>,
): void {
  describe(`DocumentStore conformance: ${name}`, () => {
    let current: DocumentStoreBackend;
    beforeEach(async () => {
      current = await backend();
    });
    afterEach(async () => {
      await current.close?.();
    });

    const store = (options: Partial<DocumentStoreOptions> = {}) =>
      new DocumentStore({ eventStore: current.eventStore, ...options });
    const suffix = () => randomUUID().replaceAll('-', '').slice(0, 10);
    const usersCollection = () =>
      documentCollection<{ name: string; email?: string; tags?: string[]; count?: number }>(
        `users_${suffix()}`,
        { aggregateType: 'User' },
      );
    const typesOf = async (streamId: string) =>
      (await current.eventStore.readStream(streamId)).map((event) => event.type);

    it('creates a document with its Created event, and reads it back at version 1', async () => {
      const documents = store();
      const users = usersCollection();
      const write = await documents.update(users, 'ash', () => ({ name: 'Ash', email: 'a@x' }));
      expect(write).toMatchObject({
        id: 'ash',
        version: 1,
        previous: undefined,
        document: { name: 'Ash', email: 'a@x' },
        diff: { isNew: true, isDeleted: false, hasChanges: true },
        events: [{ type: 'UserCreated', data: { document: { name: 'Ash', email: 'a@x' } } }],
      });
      expect(write.positions).toHaveLength(1);
      await expect(documents.get(users, 'ash')).resolves.toEqual({
        id: 'ash',
        version: 1,
        document: { name: 'Ash', email: 'a@x' },
      });
      await expect(documents.get(users, 'nobody')).resolves.toBeUndefined();
    });

    it('stores an update as a JSON Merge Patch of what changed; another store reads the same', async () => {
      const users = usersCollection();
      await store().update(users, 'ash', () => ({ name: 'Ash', email: 'a@x', tags: ['a'] }));
      const write = await store().update(users, 'ash', (user) => {
        user!.email = 'ash@x';
        delete user!.tags;
        return user!;
      });
      expect(write.diff).toEqual({
        isNew: false,
        isDeleted: false,
        hasChanges: true,
        mergePatch: { email: 'ash@x', tags: null },
      });
      expect(write.events).toEqual([
        { type: 'UserUpdated', data: { patch: { email: 'ash@x', tags: null } } },
      ]);
      // A store with nothing cached rebuilds the document from the stored events.
      await expect(store().get(users, 'ash')).resolves.toEqual({
        id: 'ash',
        version: 2,
        document: { name: 'Ash', email: 'ash@x' },
      });
      expect(await typesOf(users.streamIdOf('ash'))).toEqual(['UserCreated', 'UserUpdated']);
    });

    it('writes nothing when the new document equals the stored one', async () => {
      const documents = store();
      const users = usersCollection();
      await documents.update(users, 'ash', () => ({ name: 'Ash', tags: ['a', 'b'] }));
      const write = await documents.update(users, 'ash', () => ({ tags: ['a', 'b'], name: 'Ash' }));
      expect(write).toMatchObject({ version: 1, diff: { hasChanges: false, mergePatch: {} } });
      expect(write.events).toEqual([]);
      expect(await typesOf(users.streamIdOf('ash'))).toEqual(['UserCreated']);
    });

    it('deletes with a Deleted event; a later write creates the document again', async () => {
      const documents = store();
      const users = usersCollection();
      await documents.update(users, 'ash', () => ({ name: 'Ash' }));
      const deleted = await documents.delete(users, 'ash');
      expect(deleted).toMatchObject({
        version: 2,
        previous: { name: 'Ash' },
        document: undefined,
        diff: { isNew: false, isDeleted: true, hasChanges: true },
        events: [{ type: 'UserDeleted', data: {} }],
      });
      await expect(documents.get(users, 'ash')).resolves.toBeUndefined();
      const again = await documents.update(users, 'ash', (user) => {
        expect(user).toBeUndefined();
        return { name: 'Ash II' };
      });
      expect(again).toMatchObject({ version: 3, diff: { isNew: true } });
      await expect(documents.get(users, 'ash')).resolves.toMatchObject({
        version: 3,
        document: { name: 'Ash II' },
      });
    });

    it('names the document of a stream, and no document of another collection', () => {
      const users = usersCollection();
      expect(users.idOf(users.streamIdOf('ash-2'))).toBe('ash-2');
      expect(users.idOf(`${users.name}x-ash`)).toBeUndefined();
      expect(users.idOf(`${users.name}-`)).toBeUndefined();
    });

    it('deleting a document that does not exist writes nothing', async () => {
      const users = usersCollection();
      const write = await store().delete(users, 'ghost');
      expect(write).toMatchObject({ version: 0, diff: { hasChanges: false }, events: [] });
      expect((await current.eventStore.streamInfo(users.streamIdOf('ghost'))).version).toBe(0);
    });

    it('refuses a write based on another version (If-Match) without calling the change', async () => {
      const documents = store();
      const users = usersCollection();
      await documents.update(users, 'ash', () => ({ name: 'Ash' }), { expectedVersion: 0 });
      let called = false;
      const stale = documents.update(
        users,
        'ash',
        () => {
          called = true;
          return { name: 'Stale' };
        },
        { expectedVersion: 0 },
      );
      await expect(stale).rejects.toBeInstanceOf(ConcurrencyConflictError);
      await expect(stale).rejects.toMatchObject({ expected: 0, actual: 1 });
      expect(called).toBe(false);
      await expect(
        documents.update(users, 'ash', () => ({ name: 'Ash 2' }), { expectedVersion: 1 }),
      ).resolves.toMatchObject({ version: 2 });
      await expect(documents.get(users, 'ash')).resolves.toMatchObject({
        document: { name: 'Ash 2' },
      });
    });

    it('loses no update when writers race on one document: conflicts are read again and retried', async () => {
      const documents = store({ retry: { maxAttempts: 200, initialDelayMs: 1, maxDelayMs: 25 } });
      const users = usersCollection();
      await documents.update(users, 'counter', () => ({ name: 'c', count: 0 }));
      const writers = 8;
      const each = 3;
      await Promise.all(
        Array.from({ length: writers }, async () => {
          for (let i = 0; i < each; i++)
            await documents.update(users, 'counter', (user) => ({
              ...user!,
              count: user!.count! + 1,
            }));
        }),
      );
      await expect(documents.get(users, 'counter')).resolves.toMatchObject({
        version: 1 + writers * each,
        document: { count: writers * each },
      });
    });

    it('appends the mapper’s events with the change, in one append (S4-3, S4-4)', async () => {
      const EmailChanged = messageType('UserEmailChanged', z.object({ email: z.string() }));
      const seen: { version: number; isNew: boolean }[] = [];
      const users = documentCollection<{ name: string; email?: string }>(`users_${suffix()}`, {
        aggregateType: 'User',
        events: (change) => {
          seen.push({ version: change.version, isNew: change.diff.isNew });
          const email = change.diff.mergePatch.email;
          return typeof email === 'string' && !change.diff.isNew
            ? [EmailChanged.of({ email })]
            : [];
        },
      });
      const documents = store();
      await documents.update(users, 'ash', () => ({ name: 'Ash', email: 'a@x' }));
      const write = await documents.update(users, 'ash', (user) => ({ ...user!, email: 'b@x' }));
      expect(write.events.map((event) => event.type)).toEqual(['UserUpdated', 'UserEmailChanged']);
      expect(write.version).toBe(3);
      expect(write.positions).toHaveLength(2);
      // The mapper gets its change's own event's version (2); its event follows at 3, the
      // version of the write and of the document (DocumentChange.version).
      expect(seen).toEqual([
        { version: 1, isNew: true },
        { version: 2, isNew: false },
      ]);
      const stored = await current.eventStore.readStream(users.streamIdOf('ash'));
      expect(stored.map((event) => [event.type, event.version])).toEqual([
        ['UserCreated', 1],
        ['UserUpdated', 2],
        ['UserEmailChanged', 3],
      ]);
      // The mapper's events are history, not state: the document is the collection's own fold.
      await expect(documents.get(users, 'ash')).resolves.toEqual({
        id: 'ash',
        version: 3,
        document: { name: 'Ash', email: 'b@x' },
      });
    });

    it('writes neither the change nor any event when the mapper throws', async () => {
      let fail = false;
      const users = documentCollection<{ name: string }>(`users_${suffix()}`, {
        events: () => {
          if (fail) throw new Error('mapper broke');
          return [];
        },
      });
      const documents = store();
      await documents.update(users, 'ash', () => ({ name: 'Ash' }));
      fail = true;
      await expect(documents.update(users, 'ash', () => ({ name: 'Changed' }))).rejects.toThrow(
        'mapper broke',
      );
      await expect(documents.get(users, 'ash')).resolves.toMatchObject({
        version: 1,
        document: { name: 'Ash' },
      });
    });

    it('refuses a mapper’s result that is no event, naming the collection and the index', async () => {
      // A mapper forgetting `.of(...)` on one branch (`[cond && X.of(...)]`) returned undefined:
      // the write failed with "Cannot read properties of undefined (reading 'type')".
      const users = documentCollection<{ name: string }>(`users_${suffix()}`, {
        events: ({ diff }) => (diff.isNew ? [] : [undefined as never]),
      });
      const documents = store();
      await documents.update(users, 'ash', () => ({ name: 'Ash' }));
      const refused = documents.update(users, 'ash', () => ({ name: 'Changed' }));
      await expect(refused).rejects.toBeInstanceOf(TypeError);
      await expect(refused).rejects.toThrow(
        `documentCollection(${users.name}): events must return events ({ type, data }, as a message type's .of() makes); item 0 is undefined`,
      );
      await expect(documents.get(users, 'ash')).resolves.toMatchObject({
        version: 1,
        document: { name: 'Ash' },
      });
    });

    it('validates against the collection schema, naming the field; stores the schema output', async () => {
      const users = documentCollection(`users_${suffix()}`, {
        schema: z.object({ name: z.string().min(1), email: z.email() }),
      });
      const documents = store();
      const invalid = documents.update(users, 'ash', () => ({
        name: 'Ash',
        email: 'not an email',
      }));
      await expect(invalid).rejects.toBeInstanceOf(DocumentValidationError);
      await expect(invalid).rejects.toMatchObject({
        collection: users.name,
        id: 'ash',
        field: 'email',
      });
      expect((await current.eventStore.streamInfo(users.streamIdOf('ash'))).version).toBe(0);
      const extra = { name: 'Ash', email: 'a@x.io', extra: 'stripped' };
      await documents.update(users, 'ash', () => extra);
      await expect(documents.get(users, 'ash')).resolves.toMatchObject({
        document: { name: 'Ash', email: 'a@x.io' },
      });
      expect((await documents.get(users, 'ash'))!.document).not.toHaveProperty('extra');
    });

    it('refuses what JSON cannot hold, naming the path, and writes nothing', async () => {
      const users = documentCollection<Record<string, unknown>>(`users_${suffix()}`);
      const documents = store();
      await expect(
        documents.update(users, 'ash', () => ({ profile: { born: new Date(0) } })),
      ).rejects.toThrow(`${users.name}/ash: profile.born is a Date`);
      await expect(
        documents.update(users, 'ash', () => ({ profile: { name: 'Ash \uD800' } })),
      ).rejects.toThrow(`${users.name}/ash: the text at profile.name must be well-formed Unicode`);
      await expect(
        documents.update(users, 'ash', () => ({ tags: [{ ['\uDC00']: 1 }] })),
      ).rejects.toThrow(`${users.name}/ash: the key at tags[0].\uDC00 must be well-formed Unicode`);
      await expect(documents.update(users, 'ash', () => undefined as never)).rejects.toThrow(
        'the change function returned undefined',
      );
      await expect(documents.update(users, '', () => ({}))).rejects.toThrow(
        'a document id must be a non-empty string',
      );
      await expect(
        documents.update(users, 'ash', () => ({}), { expectedVersion: -1 }),
      ).rejects.toThrow(
        `${users.name}/ash: expectedVersion must be a non-negative integer, got -1`,
      );
      expect((await current.eventStore.streamInfo(users.streamIdOf('ash'))).version).toBe(0);
    });

    it('keeps unicode, deep nesting and null-free documents as written; null members are removed', async () => {
      const users = documentCollection<Record<string, unknown>>(`users_${suffix()}`);
      const documents = store();
      let deep: Record<string, unknown> = { leaf: '끝 🏁' };
      for (let i = 0; i < 40; i++) deep = { level: i, child: deep };
      await documents.update(users, '지우 🌊', () => ({ deep, name: 'Ash', nickname: 'A' }));
      await documents.update(users, '지우 🌊', (user) => ({ ...user, nickname: null }));
      await expect(store().get(users, '지우 🌊')).resolves.toEqual({
        id: '지우 🌊',
        version: 2,
        document: { deep, name: 'Ash' },
      });
    });

    it('applies a command once: the same commandId again writes nothing', async () => {
      const users = usersCollection();
      const documents = store();
      const commandId = randomUUID();
      await documents.update(users, 'ash', () => ({ name: 'Ash', count: 1 }), { commandId });
      const again = await documents.update(users, 'ash', (user) => ({ ...user!, count: 2 }), {
        commandId,
      });
      expect(again).toMatchObject({ version: 1, diff: { hasChanges: false }, events: [] });
      await expect(documents.get(users, 'ash')).resolves.toMatchObject({ document: { count: 1 } });
    });

    it('reads a document from its latest snapshot plus the events after it', async () => {
      const snapshots = new InMemorySnapshotStore();
      const settings = {
        store: snapshots,
        policy: SnapshotPolicies.everyEvents(2),
        schemaVersion: 1,
      };
      const users = usersCollection();
      const documents = store({ snapshots: settings });
      for (let count = 1; count <= 5; count++)
        await documents.update(users, 'ash', () => ({ name: 'Ash', count }));
      await documents.delete(users, 'ash');
      const streamId = users.streamIdOf('ash');
      expect((await snapshots.loadLatest(streamId, { schemaVersion: 1 }))?.version).toBe(6);
      await expect(store({ snapshots: settings }).get(users, 'ash')).resolves.toBeUndefined();
      await documents.update(users, 'ash', () => ({ name: 'Back', count: 0 }));
      await expect(store({ snapshots: settings }).get(users, 'ash')).resolves.toEqual({
        id: 'ash',
        version: 7,
        document: { name: 'Back', count: 0 },
      });
    });

    it('creates a deleted document again with expectedVersion 0 ("it does not exist")', async () => {
      const documents = store();
      const users = usersCollection();
      await documents.update(users, 'ash', () => ({ name: 'Ash' }), { expectedVersion: 0 });
      await documents.delete(users, 'ash');
      await expect(
        documents.update(users, 'ash', () => ({ name: 'Ash again' }), { expectedVersion: 0 }),
      ).resolves.toMatchObject({
        version: 3,
        diff: { isNew: true },
        document: { name: 'Ash again' },
      });
      await expect(
        documents.update(users, 'ash', () => ({ name: 'Ash twice' }), { expectedVersion: 0 }),
      ).rejects.toMatchObject({ expected: 0, actual: 3 });
    });

    it('gives the events of two documents written by one command ids of their own', async () => {
      const documents = store();
      const users = usersCollection();
      const commandId = randomUUID(); // e.g. one InviteTeam command creating two users
      await documents.update(users, 'brock', () => ({ name: 'Brock' }), { commandId });
      await documents.update(users, 'misty', () => ({ name: 'Misty' }), { commandId });
      const [brock] = await current.eventStore.readStream(users.streamIdOf('brock'));
      const [misty] = await current.eventStore.readStream(users.streamIdOf('misty'));
      expect(misty!.messageId).not.toBe(brock!.messageId);
      expect([brock!.metadata.causationId, misty!.metadata.causationId]).toEqual([
        commandId,
        commandId,
      ]);
    });

    it('reports one write when the same command is delivered twice at once', async () => {
      const documents = store();
      const users = usersCollection();
      await documents.update(users, 'ash', () => ({ name: 'Ash', count: 0 }));
      const commandId = randomUUID();
      let arrived = 0;
      let release!: () => void;
      const bothRead = new Promise<void>((resolve) => (release = resolve));
      const [a, b] = await Promise.all(
        [1, 2].map((count) =>
          documents.update(
            users,
            'ash',
            async (user) => {
              if (++arrived === 2) release();
              await bothRead; // both deliveries read the same version
              return { ...user!, count };
            },
            { commandId },
          ),
        ),
      );
      const stored = (await documents.get(users, 'ash'))!;
      expect([a!.diff.hasChanges, b!.diff.hasChanges].filter(Boolean)).toHaveLength(1);
      for (const write of [a!, b!]) {
        expect(write.document).toEqual(stored.document);
        expect(write.version).toBe(2);
      }
    });

    it('takes a command redelivered after its document moved on as done, also from a snapshot', async () => {
      const snapshots = new InMemorySnapshotStore();
      const settings = {
        store: snapshots,
        policy: SnapshotPolicies.everyEvents(1),
        schemaVersion: 1,
      };
      const users = usersCollection();
      for (const options of [{}, { snapshots: settings }]) {
        const documents = store(options);
        const id = `ash-${suffix()}`;
        const commandId = randomUUID();
        let calls = 0;
        const create = () =>
          documents.update(
            users,
            id,
            () => {
              calls++;
              return { name: 'Ash', count: 0 };
            },
            { expectedVersion: 0, commandId },
          );
        await create();
        await documents.update(users, id, (user) => ({ ...user!, count: 1 }));
        await documents.update(users, id, (user) => ({ ...user!, count: 2 }));
        await expect(create()).resolves.toMatchObject({
          version: 3,
          diff: { hasChanges: false },
          document: { name: 'Ash', count: 2 },
        });
        expect(calls).toBe(1);
      }
    });

    it('refuses to read a document whose creation was removed by retention', async () => {
      const documents = store();
      const users = usersCollection();
      await documents.update(users, 'ash', () => ({ name: 'Ash', count: 0 }));
      for (let count = 1; count <= 3; count++)
        await documents.update(users, 'ash', (user) => ({ ...user!, count }));
      await current.eventStore.applyRetention({ streamPrefix: `${users.name}-`, maxCount: 2 });
      // Name and email are gone with the Created event: no partial document is answered.
      await expect(documents.get(users, 'ash')).rejects.toBeInstanceOf(DocumentHistoryError);
      await expect(
        documents.update(users, 'ash', (user) => ({ ...user!, count: 9 })),
      ).rejects.toThrow(`Document stream ${users.streamIdOf('ash')} cannot be read`);
    });

    it('refuses to read a document whose retention left only a mapper’s events, and to create it again', async () => {
      const EmailChanged = messageType('UserEmailChanged', z.object({ email: z.string() }));
      const documents = store();
      const users = documentCollection<{ name: string; email: string }>(`users_${suffix()}`, {
        aggregateType: 'User',
        events: ({ diff }) =>
          !diff.isNew && typeof diff.mergePatch.email === 'string'
            ? [EmailChanged.of({ email: diff.mergePatch.email })]
            : [],
      });
      await documents.update(users, 'ash', () => ({ name: 'Ash', email: 'ash@pallet.town' }));
      await documents.update(users, 'ash', (user) => ({ ...user!, email: 'ash@league.org' }));
      // Created 1, Updated 2, EmailChanged 3: keeping one event cuts inside the last write.
      await current.eventStore.applyRetention({ streamPrefix: `${users.name}-`, maxCount: 1 });
      // Ash exists: answering "no document" let a create-only write (expectedVersion 0) make
      // Ash again, with a second UserCreated, over what was stored.
      await expect(documents.get(users, 'ash')).rejects.toThrow(
        `Document stream ${users.streamIdOf('ash')} cannot be read`,
      );
      await expect(
        documents.update(users, 'ash', () => ({ name: 'Impostor', email: 'x@y' }), {
          expectedVersion: 0,
        }),
      ).rejects.toBeInstanceOf(DocumentHistoryError);
      expect(await typesOf(users.streamIdOf('ash'))).toEqual([EmailChanged.type]);
    });

    it('refuses to read a document whose every event retention removed, and to create it again', async () => {
      const documents = store();
      const users = usersCollection();
      await documents.update(users, 'ash', () => ({ name: 'Ash', email: 'ash@pallet.town' }));
      await current.eventStore.applyRetention({ streamPrefix: `${users.name}-`, maxCount: 0 });
      await expect(documents.get(users, 'ash')).rejects.toThrow(
        `Document stream ${users.streamIdOf('ash')} cannot be read: its events up to version 1 were removed`,
      );
      await expect(
        documents.update(users, 'ash', () => ({ name: 'Impostor' }), { expectedVersion: 0 }),
      ).rejects.toBeInstanceOf(DocumentHistoryError);
      expect(await typesOf(users.streamIdOf('ash'))).toEqual([]);
      // A soft-deleted stream is no such cut: its document is gone, and may be created again.
      await documents.update(users, 'misty', () => ({ name: 'Misty' }));
      await current.eventStore.deleteStream(users.streamIdOf('misty'), { mode: 'soft' });
      await expect(documents.get(users, 'misty')).resolves.toBeUndefined();
      await documents.update(users, 'misty', () => ({ name: 'Misty' }), { expectedVersion: 0 });
      await expect(documents.get(users, 'misty')).resolves.toMatchObject({ version: 2 });
    });

    it('checks the schema on the document as stored: without its null members', async () => {
      const documents = store();
      const optional = documentCollection(`users_${suffix()}`, {
        schema: z.object({ name: z.string(), nickname: z.string().optional() }),
      });
      await documents.update(optional, 'ash', () => ({ name: 'Ash', nickname: 'A' }));
      // null removes an optional member.
      await expect(
        documents.update(optional, 'ash', (user) => ({ ...user!, nickname: null as never })),
      ).resolves.toMatchObject({
        diff: { mergePatch: { nickname: null } },
        document: { name: 'Ash' },
      });
      // A required nullable member cannot be stored: refused at its first write, named.
      const nullable = documentCollection(`users_${suffix()}`, {
        schema: z.object({ name: z.string(), nickname: z.string().nullable() }),
      });
      // Its message says where the null went, not only "received undefined".
      const advice =
        'the change set it to null, and a document drops null members as a merge patch does: declare the field .optional()';
      const refused = documents.update(nullable, 'ash', () => ({ name: 'Ash', nickname: null }));
      await expect(refused).rejects.toMatchObject({
        name: 'DocumentValidationError',
        field: 'nickname',
      });
      await expect(refused).rejects.toThrow(advice);
      const nested = documentCollection(`users_${suffix()}`, {
        schema: z.object({ profile: z.object({ nickname: z.string().nullable() }) }),
      });
      await expect(
        documents.update(nested, 'ash', () => ({ profile: { nickname: null } })),
      ).rejects.toThrow(
        `profile.nickname Invalid input: expected string, received undefined (${advice}`,
      );
      // A field left out is not told about nulls.
      await expect(
        documents.update(nullable, 'misty', () => ({ name: 'Misty' }) as never),
      ).rejects.toThrow(
        /^Invalid document users_\w+\/misty: nickname Invalid input: expected string, received undefined$/,
      );
    });

    it('keeps nulls inside arrays as written: a patch replaces an array whole', async () => {
      const documents = store();
      const orders = documentCollection<Record<string, unknown>>(`orders_${suffix()}`);
      const lines = [{ sku: 'a', discount: null }, null, [null]];
      await documents.update(orders, 'o1', () => ({ lines }));
      await expect(store().get(orders, 'o1')).resolves.toMatchObject({ document: { lines } });
      await documents.update(orders, 'o1', () => ({ lines: [{ sku: 'a', discount: 5 }] }));
      await expect(store().get(orders, 'o1')).resolves.toMatchObject({
        document: { lines: [{ sku: 'a', discount: 5 }] },
      });
    });

    it('finds every change in the global log by the collection’s event types', async () => {
      const users = usersCollection();
      const documents = store();
      await documents.update(users, 'a', () => ({ name: 'A' }));
      await documents.update(users, 'b', () => ({ name: 'B' }));
      await documents.update(users, 'a', () => ({ name: 'A2' }));
      await documents.delete(users, 'b');
      const all = await current.eventStore.readAll({
        types: users.messageTypes.map((type) => type.type),
        limit: 10_000,
      });
      const mine = all.filter((event) => event.streamId.startsWith(`${users.name}-`));
      expect(mine.map((event) => `${event.type} ${event.streamId}`)).toEqual([
        `UserCreated ${users.name}-a`,
        `UserCreated ${users.name}-b`,
        `UserUpdated ${users.name}-a`,
        `UserDeleted ${users.name}-b`,
      ]);
    });
  });
}
