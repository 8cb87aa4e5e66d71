import { mongoConnection } from './mongodb.connection';

// Without a database in the URI the driver silently uses `test`: every store would write there.
describe('mongoConnection refuses a URI that names no database', () => {
  const message =
    /^mongoConnection: options\.uri must name a database, e\.g\. mongodb:\/\/host:27017\/mydb /;

  it.each([
    'mongodb://127.0.0.1:37017',
    'mongodb://127.0.0.1:37017/',
    'mongodb://app:s3cret@db1:27017,db2:27017/?replicaSet=rs0',
    'mongodb://app:s3cret@db1:27017?authSource=admin',
    'mongodb+srv://app:s3cret@cluster.example.com',
  ])('%s, without echoing it (it may hold a password)', (uri) => {
    expect(() => mongoConnection({ uri })).toThrow(TypeError);
    expect(() => mongoConnection({ uri })).toThrow(message);
    expect(() => mongoConnection({ uri })).not.toThrow(/s3cret|example\.com|37017/);
  });

  it.each([
    'mongodb://127.0.0.1:37017/causeway',
    'mongodb://app:s3cret@db1:27017,db2:27017/causeway?replicaSet=rs0&authSource=admin',
    'mongodb+srv://app:s3cret@cluster.example.com/causeway?retryWrites=false',
  ])('accepts %s', (uri) => {
    expect(() => mongoConnection({ uri })).not.toThrow();
  });

  it('accepts a URI without a database when options.dbName names it (mongoose option)', () => {
    expect(() =>
      mongoConnection({ uri: 'mongodb://127.0.0.1:37017', options: { dbName: 'causeway' } }),
    ).not.toThrow();
    expect(() =>
      mongoConnection({ uri: 'mongodb://127.0.0.1:37017', options: { dbName: '' } }),
    ).toThrow(message);
  });
});
