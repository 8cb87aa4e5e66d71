import { type DynamicModule, Module } from '@nestjs/common';
import { contractsSerializer } from '@causeway/contracts';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { kafkaConnection } from '@causeway/cqrs-core/kafka';
import { type CheckpointStore } from '@causeway/cqrs-core';
import { MongoCheckpointStore, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { RedisCheckpointStore } from '@causeway/cqrs-core/redis';
import {
  instanceIdOf,
  keyPrefixOf,
  mongoFromConfig,
  readModelsFromConfig,
  redisFromConfig,
  RedisMessagingModule,
  RedisNotificationLog,
} from '@causeway/platform';
import { type Connection } from 'mongoose';
import { Registry } from 'prom-client';
import {
  notifyHorizonOf,
  type ProjectionWorkerConfig,
  rebuildHorizonOf,
} from './config/projection-worker.config';
import { ProjectionModule } from './projection/projection.module';

@Module({})
export class AppModule {
  static forRoot(config: ProjectionWorkerConfig): DynamicModule {
    const registry = new Registry();
    const redis = redisFromConfig(config, registry);
    const mongo = mongoFromConfig(config, registry);
    const instanceId = instanceIdOf(config);
    const keyPrefix = keyPrefixOf(config);
    const eventStore = new MongoEventStore({
      connection: mongo.client,
      serializer: contractsSerializer(),
    });
    const readModels = readModelsFromConfig(config, {
      redis: redis.client,
      mongo: mongo.client,
      keyPrefix,
    });
    // The checkpoint lives with the read models: when Redis loses them it loses the checkpoint
    // too, and the catch-up rebuilds them from the event store.
    const checkpoints: CheckpointStore =
      readModels.store === 'redis'
        ? new RedisCheckpointStore(redis.client, `${keyPrefix}read-models:checkpoints`)
        : new MongoCheckpointStore(mongo.client, 'projection_worker_checkpoints');
    return {
      module: AppModule,
      imports: [
        CausewayServiceModule.forRoot(
          {
            service: 'projection-worker',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: [
              redis,
              // Kafka carries none of this app's traffic yet: shown in /health, never unready for it.
              Object.assign(
                kafkaConnection({
                  brokers: config.KAFKA_BROKERS,
                  source: 'KAFKA_BROKERS',
                  requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
                  clientId: 'projection-worker',
                  registry,
                }),
                { critical: false },
              ),
              mongo,
            ],
          },
          registry,
        ),
        RedisMessagingModule.forRoot({
          service: 'projection-worker',
          instanceId,
          config,
          redis,
          registry,
        }),
        ProjectionModule.forRoot({
          serverId: instanceId,
          eventStore,
          positions: readModels.positions,
          groups: readModels.groups,
          notifications: new RedisNotificationLog({
            client: redis.client,
            keyPrefix,
            maxLength: config.NOTIFICATION_LOG_MAX_LENGTH,
            retentionMs: config.NOTIFICATION_LOG_RETENTION_MS,
          }),
          checkpoints,
          catchUpIntervalMs: config.CATCH_UP_INTERVAL_MS,
          maxAttempts: config.CATCH_UP_MAX_ATTEMPTS,
          registry,
          notifyHorizonMs: notifyHorizonOf(config),
          rebuildNotifyHorizonMs: rebuildHorizonOf(config),
          // The connection opens in the background (retried while MongoDB is down); the stores
          // need it open to create their collections and indexes (the read models' only in MongoDB).
          ready: async () => {
            await whenOpen(mongo.client);
            await eventStore.init();
            await readModels.init();
          },
        }),
      ],
    };
  }
}

/** Resolves once the mongoose connection is open (now or after its next successful open). */
function whenOpen(connection: Connection): Promise<void> {
  if (connection.readyState === 1 && connection.db) return Promise.resolve();
  return new Promise((resolve) => connection.once('open', () => resolve()));
}
