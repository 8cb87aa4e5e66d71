import { type ReadAllOptions, type ReadAllPage, type StoredEvent } from './event-store.port';

/**
 * `readAll` in terms of `readAllPage`: reads pages, each from the previous page's checkpoint,
 * until `limit` events are read or a page reaches the end of the log. For stores whose pages
 * stop at a work budget (so that one page call does bounded work), readAll still returns every
 * matching event up to the limit, as it always did.
 */
export async function readAllByPages(
  readPage: (options: ReadAllOptions) => Promise<ReadAllPage>,
  options: ReadAllOptions = {},
): Promise<StoredEvent[]> {
  const limit = options.limit ?? Infinity;
  const result: StoredEvent[] = [];
  let from = options.fromPosition ?? 0;
  while (result.length < limit) {
    const page = await readPage({
      ...options,
      fromPosition: from,
      limit: Number.isFinite(limit) ? limit - result.length : undefined,
    });
    result.push(...page.events);
    // A page that is not at the end moves on (events or position): guard against one that does
    // not, rather than read it for ever.
    const stuck = page.events.length === 0 && page.position <= from;
    from = page.position;
    if (page.caughtUp || stuck) break;
  }
  return result;
}
