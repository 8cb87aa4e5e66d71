import type Redis from 'ioredis';
import { type Connection } from 'mongoose';
import { type GroupMembers } from './group-members.port';
import { MongoGroupMembers } from './mongodb.group-members';
import { MongoTrainerPositions } from './mongodb.trainer-positions';
import { RedisGroupMembers } from './redis.group-members';
import { RedisTrainerPositions } from './redis.trainer-positions';
import { type ReadModelStore } from './read-models.settings';
import { type TrainerPositions } from './trainer-positions.port';

/** The read models of an app, in the store its settings name. */
export interface ReadModels {
  store: ReadModelStore;
  positions: TrainerPositions;
  groups: GroupMembers;
  /** Creates the MongoDB collections and indexes (the connection must be open); Redis: nothing. */
  init(): Promise<void>;
}

/**
 * The read models READ_MODEL_STORE names: Redis keys under `keyPrefix`, or MongoDB collections.
 * `mongo` is needed only for `mongodb`: an app that uses MongoDB for nothing else (sse-gateway)
 * opens no connection with `redis`. Throws if `mongodb` is chosen without one.
 */
export function readModelsFromConfig(
  config: { READ_MODEL_STORE: ReadModelStore },
  connections: { redis: Redis; mongo?: Connection; keyPrefix: string },
): ReadModels {
  if (config.READ_MODEL_STORE === 'redis') {
    const options = { client: connections.redis, keyPrefix: connections.keyPrefix };
    return {
      store: 'redis',
      positions: new RedisTrainerPositions(options),
      groups: new RedisGroupMembers(options),
      init: async () => undefined,
    };
  }
  if (!connections.mongo)
    throw new Error('READ_MODEL_STORE=mongodb needs a MongoDB connection (set MONGODB_URI)');
  const positions = new MongoTrainerPositions(connections.mongo);
  const groups = new MongoGroupMembers(connections.mongo);
  return {
    store: 'mongodb',
    positions,
    groups,
    init: async () => {
      await positions.init();
      await groups.init();
    },
  };
}
