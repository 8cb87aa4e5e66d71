import { loadConfiguration } from '@causeway/cqrs-core';
import Redis from 'ioredis';
import { z } from 'zod';
import { mongoUriForMongoReadModels, readModelSettings } from './read-models.settings';
import { readModelsFromConfig } from './read-models.wiring';

describe('readModelsFromConfig', () => {
  // Never connects: neither store talks to a server until a read model is used.
  const redis = new Redis({ lazyConnect: true });
  afterAll(() => redis.disconnect());

  it('needs no MongoDB connection for the Redis read models', () => {
    expect(
      readModelsFromConfig({ READ_MODEL_STORE: 'redis' }, { redis, keyPrefix: 'p:' }).store,
    ).toBe('redis');
  });

  it('refuses the MongoDB read models without a MongoDB connection, naming MONGODB_URI', () => {
    expect(() =>
      readModelsFromConfig({ READ_MODEL_STORE: 'mongodb' }, { redis, keyPrefix: 'p:' }),
    ).toThrow('READ_MODEL_STORE=mongodb needs a MongoDB connection (set MONGODB_URI)');
  });
});

describe('mongoUriForMongoReadModels', () => {
  const schema = z
    .object({
      REDIS_URL: z.string({ message: 'is required' }),
      MONGODB_URI: z.string().optional(),
      ...readModelSettings,
    })
    .check(mongoUriForMongoReadModels);

  it('lets an app start without MONGODB_URI while the read models are in Redis', () => {
    expect(loadConfiguration(schema, { REDIS_URL: 'redis://r:1' })).toEqual({
      REDIS_URL: 'redis://r:1',
      READ_MODEL_STORE: 'redis',
    });
  });

  it('names MONGODB_URI when READ_MODEL_STORE=mongodb, along with every other bad setting', () => {
    expect(() => loadConfiguration(schema, { READ_MODEL_STORE: 'mongodb' })).toThrow(
      'Invalid configuration: REDIS_URL: is required; MONGODB_URI: is required when READ_MODEL_STORE=mongodb',
    );
    expect(
      loadConfiguration(schema, {
        REDIS_URL: 'redis://r:1',
        READ_MODEL_STORE: 'mongodb',
        MONGODB_URI: 'mongodb://m:1/db',
      }).MONGODB_URI,
    ).toBe('mongodb://m:1/db');
  });
});
