import { chooseStore } from '../shared/store.choice';

const servers = { MONGODB_URI: 'mongodb://127.0.0.1:27017/x', REDIS_URL: 'redis://127.0.0.1:6379' };

describe('choosing the store of an example', () => {
  it('runs in memory when no server is configured', () => {
    expect(chooseStore([], {}).store).toBe('memory');
  });

  it('takes MongoDB, then Redis, from the environment', () => {
    expect(chooseStore([], servers).store).toBe('mongodb');
    expect(chooseStore([], { REDIS_URL: servers.REDIS_URL }).store).toBe('redis');
  });

  it('lets --store override the environment', () => {
    expect(chooseStore(['--store', 'memory'], servers).store).toBe('memory');
    expect(chooseStore(['--store=redis'], servers)).toEqual({
      store: 'redis',
      mongodbUri: servers.MONGODB_URI,
      redisUrl: servers.REDIS_URL,
    });
  });

  it('names the variable a server needs, and the stores there are', () => {
    expect(() => chooseStore(['--store', 'mongodb'], {})).toThrow(
      /--store mongodb needs MONGODB_URI/,
    );
    expect(() => chooseStore(['--store', 'redis'], {})).toThrow(/--store redis needs REDIS_URL/);
    expect(() => chooseStore(['--store', 'postgres'], servers)).toThrow(
      '--store must be one of memory, mongodb, redis, got postgres',
    );
  });
});
