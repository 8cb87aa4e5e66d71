import { z } from 'zod';
import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { documentCollection } from './document.collection';
import { DocumentStore } from './document.store';

// Compile-time checks of what a change function may return, run by the typecheck script (tsc
// includes the spec files): an unused `@ts-expect-error` fails it, i.e. when a wrong change
// compiles. The collection's schema output is the document: the change answers that type.
const users = documentCollection('users', {
  schema: z.object({ name: z.string(), role: z.string().default('user') }),
});
declare const documents: DocumentStore;

// Functions never called: the checks are the compiler's.
export const checked = [
  () => documents.update(users, 'a', (user) => ({ name: user?.name ?? 'x', role: 'admin' })),
  // The stored document has its default filled in: a change answers it whole. The error is
  // reported at the answer ("Property 'role' is missing"); it was reported at the collection
  // (`users`), T being inferred from the answer too.
  () =>
    documents.update(
      users,
      'a',
      // @ts-expect-error role is part of the stored document
      () => ({ name: 'x' }),
    ),
  () => documents.update(users, 'a', (user) => ({ ...user!, role: 'admin' })),
];

describe('DocumentStore.update types', () => {
  it('takes a change that answers the collection document', async () => {
    const store = new DocumentStore({ eventStore: new InMemoryEventStore() });
    const write = await store.update(users, 'a', () => ({ name: 'Ash', role: 'admin' }));
    expect(write.document).toEqual({ name: 'Ash', role: 'admin' });
  });
});
