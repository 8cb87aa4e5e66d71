import { mongoConnection } from './mongodb.connection';
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

  it('refuses the connection itself, saying to pass its .client', () => {
    // As the Redis stores say it: "got [object Object]" did not tell what was wrong.
    const connection = mongoConnection({ uri: 'mongodb://127.0.0.1:1/never-opened' });
    expect(
      () =>
        new MongoSnapshotStore({
          connection: connection as unknown as MongoSnapshotStoreOptions['connection'],
        }),
    ).toThrow(
      new TypeError(
        'MongoSnapshotStore: options.connection must be a mongoose connection (mongoConnection(...).client), got a connection or an object holding the client: pass its .client',
      ),
    );
  });
});
