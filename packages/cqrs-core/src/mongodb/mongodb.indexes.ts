import { type mongo } from 'mongoose';

/** An index a store needs: its keys (in order), its name, and whether it is unique. */
export interface IndexSpec {
  name: string;
  keys: Record<string, 1 | -1>;
  unique?: boolean;
}

/** An index of the same name or the same keys exists with other keys or options. */
export class IndexConflictError extends Error {
  constructor(
    readonly collection: string,
    readonly index: string,
    readonly problem: string,
  ) {
    super(
      `Collection "${collection}": index "${index}" ${problem}; drop or rename it, then start again`,
    );
    this.name = 'IndexConflictError';
  }
}

/**
 * Creates the indexes of `specs` that the collection lacks, and only those: a start-up with every
 * index in place sends no createIndexes (on a replica set a build waits for every voting member,
 * so a restart while one is down would hang there). An index with the same keys under another
 * name is accepted when uniqueness matches (an operator may have built it by hand).
 * @throws IndexConflictError naming the collection and index when an existing one has the same
 *   name and other keys, or the same keys and other uniqueness (MongoDB refuses to create ours)
 */
export async function ensureIndexes<Document extends mongo.Document>(
  collection: mongo.Collection<Document>,
  specs: readonly IndexSpec[],
): Promise<void> {
  const existing = (await collection.listIndexes().toArray()) as {
    name: string;
    key: Record<string, number>;
    unique?: boolean;
  }[];
  for (const spec of specs) {
    const sameName = existing.find((index) => index.name === spec.name);
    const sameKeys = existing.find((index) => sameKeyList(index.key, spec.keys));
    const unique = spec.unique === true;
    if (sameName && !sameKeyList(sameName.key, spec.keys)) {
      throw new IndexConflictError(
        collection.collectionName,
        spec.name,
        `has keys ${JSON.stringify(sameName.key)}, expected ${JSON.stringify(spec.keys)}`,
      );
    }
    if (sameKeys) {
      if ((sameKeys.unique === true) !== unique) {
        throw new IndexConflictError(
          collection.collectionName,
          sameKeys.name,
          `on ${JSON.stringify(spec.keys)} is ${unique ? 'not unique' : 'unique'}, expected ${unique ? 'unique' : 'not unique'}`,
        );
      }
      continue;
    }
    await collection.createIndex(spec.keys, { name: spec.name, ...(unique && { unique }) });
  }
}

function sameKeyList(a: Record<string, number>, b: Record<string, number>): boolean {
  const left = Object.entries(a);
  const right = Object.entries(b);
  return (
    left.length === right.length &&
    left.every(([key, direction], i) => right[i]?.[0] === key && right[i]?.[1] === direction)
  );
}
