import { MongoSnapshotStore, type MongoSnapshotStoreOptions } from './mongodb.snapshot-store';

describe('MongoSnapshotStore', () => {
  // It used to fail with "Cannot read properties of undefined (reading 'models')".
  it('refuses to be built without a connection, naming the option', () => {
    expect(() => new MongoSnapshotStore({} as MongoSnapshotStoreOptions)).toThrow(
      new TypeError(
        'MongoSnapshotStore: options.connection must be a mongoose connection (mongoConnection(...).client), got undefined',
      ),
    );
    expect(() => new MongoSnapshotStore(undefined as unknown as MongoSnapshotStoreOptions)).toThrow(
      /options\.connection must be a mongoose connection/,
    );
  });
});
