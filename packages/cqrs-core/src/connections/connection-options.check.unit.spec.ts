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

  it('redisConnection refuses a negative or fractional silence timeout, naming it', () => {
    for (const silenceTimeoutMs of [-1, 1.5, Number.NaN])
      expect(() => redisConnection({ url: 'redis://127.0.0.1:6379', silenceTimeoutMs })).toThrow(
        /^redisConnection: options.silenceTimeoutMs must be a whole number of milliseconds, 0 or more \(0: off\), got /,
      );
  });

  it('mongoConnection refuses a negative or fractional silence timeout, naming it', () => {
    for (const silenceTimeoutMs of [-1, 1.5, Number.NaN])
      expect(() => mongoConnection({ uri: 'mongodb://127.0.0.1/db', silenceTimeoutMs })).toThrow(
        /^mongoConnection: options.silenceTimeoutMs must be a whole number of milliseconds, 0 or more \(0: off\), got /,
      );
  });

  it('mongoConnection, without echoing the value (it may hold a password)', () => {
    expect(() => mongoConnection({ uri: 'http://user:secret@host/db' })).toThrow(
      /^mongoConnection: options.uri must be a mongodb:\/\/ or mongodb\+srv:\/\/ URL, got a string of another form$/,
    );
    expect(() => mongoConnection({ uri: 'http://user:secret@host/db' })).not.toThrow(/secret/);
  });
});
