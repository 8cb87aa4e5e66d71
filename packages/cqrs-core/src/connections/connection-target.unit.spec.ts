import { withoutCredentials } from './connection-target';

describe('withoutCredentials', () => {
  it.each([
    ['redis://:secret@10.0.0.5:6379', 'redis://10.0.0.5:6379'],
    ['rediss://user:secret@cache.internal:6380/2', 'rediss://cache.internal:6380/2'],
    [
      'mongodb://app:s%40cret@db1:27017,db2:27017/causeway?replicaSet=rs0',
      'mongodb://db1:27017,db2:27017/causeway?replicaSet=rs0',
    ],
    [
      'mongodb+srv://app:pw@cluster.example.net/causeway',
      'mongodb+srv://cluster.example.net/causeway',
    ],
    ['redis://127.0.0.1:16379', 'redis://127.0.0.1:16379'],
  ])('shows %s as %s', (address, shown) => {
    expect(withoutCredentials(address)).toBe(shown);
  });
});
