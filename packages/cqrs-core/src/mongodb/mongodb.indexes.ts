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

/** An index as `listIndexes` describes it (the options that matter here). */
export interface ExistingIndex {
  name: string;
  key: Record<string, number>;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: unknown;
  collation?: unknown;
}

const NAMESPACE_NOT_FOUND = 26;

/**
 * Creates the indexes of `specs` that the collection lacks, and only those: a start-up with every
 * index in place sends no createIndexes (on a replica set a build waits for every voting member,
 * so a restart while one is down would hang there). A missing collection is created by the
 * first index. See {@link planIndexes} for what counts as in place.
 * @throws IndexConflictError naming the collection and index (see planIndexes)
 */
export async function ensureIndexes<Document extends mongo.Document>(
  collection: mongo.Collection<Document>,
  specs: readonly IndexSpec[],
): Promise<void> {
  let existing: ExistingIndex[];
  try {
    existing = (await collection.listIndexes().toArray()) as ExistingIndex[];
  } catch (error) {
    if ((error as { code?: number }).code !== NAMESPACE_NOT_FOUND) throw error;
    existing = [];
  }
  for (const spec of planIndexes(collection.collectionName, existing, specs))
    await collection.createIndex(spec.keys, {
      name: spec.name,
      ...(spec.unique && { unique: true }),
    });
}

/**
 * The indexes of `specs` to create, given the `existing` ones. An index with the same keys under
 * another name is accepted when uniqueness matches (an operator may have built it by hand). A
 * partial or collated index on the same keys does not count (on MongoDB it may not cover every
 * document, or compare strings otherwise): ours is created beside it, which MongoDB allows.
 * @throws IndexConflictError when an existing index has our name and other keys, options or
 *   uniqueness; or our keys and other uniqueness; or our keys and `sparse`, which MongoDB does
 *   not let an index of the same keys differ in (it would refuse to create ours)
 */
export function planIndexes(
  collection: string,
  existing: readonly ExistingIndex[],
  specs: readonly IndexSpec[],
): IndexSpec[] {
  const plan: IndexSpec[] = [];
  for (const spec of specs) {
    const unique = spec.unique === true;
    const uniqueness = (index: ExistingIndex) =>
      (index.unique === true) === unique
        ? undefined
        : `on ${JSON.stringify(spec.keys)} is ${unique ? 'not unique' : 'unique'}, expected ${unique ? 'unique' : 'not unique'}`;
    const sameName = existing.find((index) => index.name === spec.name);
    if (sameName) {
      const problem = !sameKeyList(sameName.key, spec.keys)
        ? `has keys ${JSON.stringify(sameName.key)}, expected ${JSON.stringify(spec.keys)}`
        : (narrowing(sameName) ?? (sameName.sparse === true ? 'sparse' : undefined))
          ? `on ${JSON.stringify(spec.keys)} is ${narrowing(sameName) ?? 'sparse'}, expected a plain index`
          : uniqueness(sameName);
      if (problem) throw new IndexConflictError(collection, spec.name, problem);
      continue;
    }
    const sameKeys = existing.filter((index) => sameKeyList(index.key, spec.keys));
    const plain = sameKeys.find((index) => !narrowing(index));
    if (plain) {
      const problem =
        plain.sparse === true
          ? `on ${JSON.stringify(spec.keys)} is sparse, expected a plain index`
          : uniqueness(plain);
      if (problem) throw new IndexConflictError(collection, plain.name, problem);
      continue;
    }
    plan.push(spec);
  }
  return plan;
}

/** Why an index may not cover every document or compare as ours does, if it may not. */
function narrowing(index: ExistingIndex): string | undefined {
  if (index.partialFilterExpression !== undefined) return 'partial';
  if (index.collation !== undefined) return 'collated';
  return undefined;
}

function sameKeyList(a: Record<string, number>, b: Record<string, number>): boolean {
  const left = Object.entries(a);
  const right = Object.entries(b);
  return (
    left.length === right.length &&
    left.every(([key, direction], i) => right[i]?.[0] === key && right[i]?.[1] === direction)
  );
}
