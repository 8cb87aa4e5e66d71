import { mongoConnection } from '../mongodb/mongodb.connection';
import { redisConnection } from '../redis/redis.connection';

describe('connection managers refuse a missing or malformed address, naming the option', () => {
  it('redisConnection', () => {
    expect(() => redisConnection({ url: undefined as unknown as string })).toThrow(
      new TypeError(
        'redisConnection: options.url must be a redis:// or rediss:// URL, got undefined',
      ),
    );
    expect(() => redisConnection({ url: 'localhost:6379' })).toThrow(
      'redisConnection: options.url must be a redis:// or rediss:// URL, got a string of another form',
    );
  });

  it('mongoConnection, without echoing the value (it may hold a password)', () => {
    expect(() => mongoConnection({ uri: 'http://user:secret@host/db' })).toThrow(
      /^mongoConnection: options.uri must be a mongodb:\/\/ or mongodb\+srv:\/\/ URL, got a string of another form$/,
    );
    expect(() => mongoConnection({ uri: 'http://user:secret@host/db' })).not.toThrow(/secret/);
  });
});
