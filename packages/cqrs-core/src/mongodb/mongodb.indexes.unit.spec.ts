import {
  type ExistingIndex,
  IndexConflictError,
  type IndexSpec,
  planIndexes,
} from './mongodb.indexes';

// What listIndexes answers on MongoDB; FerretDB 1.24 has no partial, sparse or collated
// indexes, so these cases cannot be built on the test server (the integration tests cover the
// rest of ensureIndexes there).
describe('planIndexes', () => {
  const version: IndexSpec = {
    name: 'stream_version',
    keys: { streamId: 1, firstVersion: 1 },
    unique: true,
  };
  const id: ExistingIndex = { name: '_id_', key: { _id: 1 } };
  const plan = (existing: ExistingIndex[]) => planIndexes('commits', [id, ...existing], [version]);

  it('creates what is missing and accepts ours, or the same index under another name', () => {
    expect(plan([])).toEqual([version]);
    expect(plan([{ name: 'stream_version', key: version.keys, unique: true }])).toEqual([]);
    expect(plan([{ name: 'by_hand', key: version.keys, unique: true }])).toEqual([]);
  });

  it('creates ours beside a partial or collated index of the same keys, which may not cover every document', () => {
    const partial = {
      name: 'by_hand',
      key: version.keys,
      unique: true,
      partialFilterExpression: { streamId: { $exists: true } },
    };
    const collated = { name: 'ci', key: version.keys, unique: true, collation: { strength: 2 } };
    expect(plan([partial])).toEqual([version]);
    expect(plan([collated])).toEqual([version]);
    // A plain one beside them is the one that counts.
    expect(plan([partial, { name: 'plain', key: version.keys, unique: true }])).toEqual([]);
  });

  it.each<[string, ExistingIndex, string]>([
    [
      'our name on other keys',
      { name: 'stream_version', key: { streamId: 1 } },
      'has keys {"streamId":1}, expected {"streamId":1,"firstVersion":1}',
    ],
    [
      'our name, partial',
      { name: 'stream_version', key: version.keys, unique: true, partialFilterExpression: {} },
      'is partial, expected a plain index',
    ],
    [
      'our name, sparse',
      { name: 'stream_version', key: version.keys, unique: true, sparse: true },
      'is sparse, expected a plain index',
    ],
    [
      'our keys, not unique',
      { name: 'by_hand', key: version.keys },
      'is not unique, expected unique',
    ],
    [
      'our keys, sparse (MongoDB would refuse ours beside it)',
      { name: 'by_hand', key: version.keys, unique: true, sparse: true },
      'is sparse, expected a plain index',
    ],
  ])('refuses %s, naming collection and index', (_case, existing, problem) => {
    expect(() => plan([existing])).toThrow(IndexConflictError);
    expect(() => plan([existing])).toThrow(
      `Collection "commits": index "${existing.name}" ${existing.name === 'stream_version' && problem.startsWith('has') ? '' : 'on {"streamId":1,"firstVersion":1} '}${problem}`,
    );
  });
});
