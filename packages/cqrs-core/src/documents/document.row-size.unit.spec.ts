import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { refusal } from '../testing/refusal.expectation';
import { documentCollection } from './document.collection';
import { DocumentStore } from './document.store';

// A document's read-store row is bounded (maxRowBytes, MongoDB's 16 MiB by default), so that
// documentProjection never meets a row its store refuses on every retry.
describe('documentCollection maxRowBytes', () => {
  it('refuses a write whose row would be larger, naming the document, writing nothing', async () => {
    const eventStore = new InMemoryEventStore();
    const documents = new DocumentStore({ eventStore });
    const notes = documentCollection<{ text: string }>('notes', { maxRowBytes: 1_000 });
    // Its JSON (~511 bytes) and its top-level string again (~500): over 1 000.
    const error = await refusal(documents.update(notes, 'n1', () => ({ text: 'x'.repeat(500) })));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(
      /^Document notes\/n1 would take 1\d{3} bytes as a read-store row .* over the collection's maxRowBytes of 1000: not written/,
    );
    await expect(eventStore.readStream('notes-n1')).resolves.toEqual([]);
    // An update that makes a stored document too large is refused too; the old one stays.
    await documents.update(notes, 'n1', () => ({ text: 'x'.repeat(300) }));
    await expect(
      documents.update(notes, 'n1', (note) => ({ text: `${note!.text}${'y'.repeat(200)}` })),
    ).rejects.toThrow(RangeError);
    await expect(documents.get(notes, 'n1')).resolves.toMatchObject({
      document: { text: 'x'.repeat(300) },
      version: 1,
    });
    // Without a bound (rows kept in memory or on Redis), any size is written.
    const unbounded = documentCollection<{ text: string }>('notes', { maxRowBytes: Infinity });
    await new DocumentStore({ eventStore: new InMemoryEventStore() }).update(
      unbounded,
      'n1',
      () => ({
        text: 'x'.repeat(500),
      }),
    );
  });

  it.each([
    [0, '0'],
    [-1, '-1'],
    [1.5, '1.5'],
    ['1000', '"1000"'],
    [NaN, 'NaN'],
  ])('refuses maxRowBytes %p, naming it', (maxRowBytes, shown) => {
    expect(() => documentCollection('notes', { maxRowBytes: maxRowBytes as number })).toThrow(
      new TypeError(
        `documentCollection(notes): options.maxRowBytes must be a positive integer or Infinity, got ${shown}`,
      ),
    );
  });
});
