import { DocumentStore, InMemoryEventStore, documentCollection } from '../src';
import { describeDocumentStoreConformance } from '../src/testing';

// The document store (S4) over the in-memory event store: the embedded mode's backend.
describeDocumentStoreConformance('in-memory', async () => ({
  eventStore: new InMemoryEventStore(),
}));

describe('DocumentStore over the in-memory event store', () => {
  it('reads a document created while its empty stream was read as none, not as a cut history', async () => {
    // A stream read empty, then created by another writer before the store asks streamInfo:
    // that is a concurrent creation (events readable), not retention that removed them all.
    class CreatedDuringRead extends InMemoryEventStore {
      onEmptyRead: (() => Promise<unknown>) | undefined;
      override async readStream(...args: Parameters<InMemoryEventStore['readStream']>) {
        const read = await super.readStream(...args);
        const hook = this.onEmptyRead;
        if (read.length === 0 && hook) {
          this.onEmptyRead = undefined;
          await hook();
        }
        return read;
      }
    }
    const eventStore = new CreatedDuringRead();
    const documents = new DocumentStore({ eventStore });
    const users = documentCollection<{ name: string }>('users');
    eventStore.onEmptyRead = () => documents.update(users, 'ash', () => ({ name: 'Ash' }));
    await expect(documents.get(users, 'ash')).resolves.toBeUndefined();
    // A write based on such a read conflicts and is retried on the document as created.
    eventStore.onEmptyRead = () => documents.update(users, 'misty', () => ({ name: 'Misty' }));
    const write = await documents.update(users, 'misty', (user) => ({ name: `${user?.name}!` }));
    expect(write.document).toEqual({ name: 'Misty!' });
  });
});

describe('DocumentStore ids', () => {
  it('refuses an id with a lone surrogate, naming the document id, before the event store sees it', async () => {
    // Redis and MongoDB keep ids as UTF-8, where a lone surrogate becomes U+FFFD: the event
    // stores refuse such a stream id, and the refusal named the stream, not the document.
    const documents = new DocumentStore({ eventStore: new InMemoryEventStore() });
    const users = documentCollection<{ name: string }>('users');
    const refusal = /^users: a document id must be .*well-formed Unicode.*, got "ash\\ud800"$/;
    await expect(documents.get(users, 'ash\ud800')).rejects.toThrow(refusal);
    await expect(documents.update(users, 'ash\ud800', () => ({ name: 'Ash' }))).rejects.toThrow(
      refusal,
    );
    await expect(documents.delete(users, 'ash\ud800')).rejects.toThrow(refusal);
    await expect(documents.get(users, 'ash\ud800')).rejects.toBeInstanceOf(TypeError);
    // A pair (an emoji) is well-formed and works.
    await documents.update(users, 'ash\u{1F525}', () => ({ name: 'Ash' }));
    await expect(documents.get(users, 'ash\u{1F525}')).resolves.toMatchObject({ version: 1 });
  });
});
