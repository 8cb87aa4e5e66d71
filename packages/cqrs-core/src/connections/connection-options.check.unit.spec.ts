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

// A NaN (a setting parsed with Number() and a typo) made mongoConnection's open() wait for ever
// on a pool without connections, and ioredis time every command out at once; a negative
// connect timeout threw from inside ioredis, out of reach of any caller (the process ended).
describe('connection managers refuse a malformed pool size or timeout, naming the option', () => {
  const mongoUri = 'mongodb://127.0.0.1:27017/app';
  const redisUrl = 'redis://127.0.0.1:6379';

  it.each(['maxPoolSize', 'serverSelectionTimeoutMs'])('mongoConnection: %s', (option) => {
    for (const value of [Number.NaN, -1, 0, 1.5, Infinity, '20'])
      expect(() => mongoConnection({ uri: mongoUri, [option]: value })).toThrow(
        new RegExp(`^mongoConnection: options\\.${option} must be a positive integer.*, got `),
      );
    expect(() => mongoConnection({ uri: mongoUri, [option]: 20 })).not.toThrow();
  });

  it.each(['connectTimeoutMs', 'commandTimeoutMs', 'maxReconnectDelayMs'])(
    'redisConnection: %s',
    async (option) => {
      for (const value of [Number.NaN, -1, 0, 1.5, 2 ** 31, '20'])
        expect(() => redisConnection({ url: redisUrl, [option]: value })).toThrow(
          new RegExp(`^redisConnection: options\\.${option} must be a positive integer.*, got `),
        );
      // Built without connecting (open() connects): closed at once.
      await redisConnection({ url: redisUrl, [option]: 20 }).close();
    },
  );
});
