import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { contractsSerializer } from '@causeway/contracts';
import { CausewayServiceModule } from '@causeway/cqrs-core/nest';
import { RedisForwardLedger, RedisLease, RedisSlotHint } from '@causeway/cqrs-core/redis';
import {
  MongoCheckpointStore,
  MongoEventStore,
  MongoSnapshotStore,
} from '@causeway/cqrs-core/mongodb';
import {
  instanceIdOf,
  keyPrefixOf,
  mongoFromConfig,
  readModelsFromConfig,
  redisFromConfig,
  RedisCommandStatusStore,
  RedisMessagingModule,
  RedisNotificationLog,
  redisTime,
  ServerClock,
  serverClockStartup,
} from '@causeway/platform';
import { Registry } from 'prom-client';
import { type TrainerServiceConfig } from './config/trainer-service.config';
import { whenOpen } from './mongodb.ready';
import { TrainerModule } from './trainer/trainer.module';

@Module({})
export class AppModule {
  static forRoot(config: TrainerServiceConfig): DynamicModule {
    const registry = new Registry();
    const redis = redisFromConfig(config, registry);
    const mongo = mongoFromConfig(config, registry);
    const instanceId = instanceIdOf(config);
    const keyPrefix = keyPrefixOf(config);
    const eventStore = new MongoEventStore({
      connection: mongo.client,
      serializer: contractsSerializer(),
      // Several instances append to one log: share the highest slot so they do not collide.
      slotHint: new RedisSlotHint(redis.client, { keyPrefix }),
    });
    const units = eventStore.ledgerUnits();
    // What each instance published eagerly: the forwarder's rounds pass it without reading the
    // store (on FerretDB a scan of every commit). The log's name changes with the database.
    const ledger = new RedisForwardLedger({
      client: redis.client,
      key: () => `${keyPrefix}trainer-service:forwarder:ledger:{${units.log}}`,
      units,
    });
    const snapshots = new MongoSnapshotStore({ connection: mongo.client });
    // Read, and group changes written through (created here too: projection-worker may start later).
    const readModels = readModelsFromConfig(config, {
      redis: redis.client,
      mongo: mongo.client,
      keyPrefix,
    });
    // Redis' clock, as command-api's: deadlines are checked, and outcomes stamped, by it.
    const clock = new ServerClock({
      read: redisTime(redis.client),
      onError: (message) => new Logger('ServerClock').warn(message),
      onDebug: (message) => new Logger('ServerClock').debug(message),
    });
    return {
      module: AppModule,
      // The start waits (at most 5 s) for the clock's first readings.
      providers: [serverClockStartup(clock)],
      imports: [
        CausewayServiceModule.forRoot(
          {
            service: 'trainer-service',
            instanceId,
            logLevel: config.LOG_LEVEL,
            connections: [redis, mongo],
            // Not ready until Redis' time is read: no command is checked by this host's clock.
            probes: [clock.probe()],
          },
          registry,
        ),
        RedisMessagingModule.forRoot({
          service: 'trainer-service',
          instanceId,
          config,
          redis,
          registry,
          clock,
        }),
        TrainerModule.forRoot({
          serverId: instanceId,
          eventStore,
          snapshots,
          commandStatus: new RedisCommandStatusStore(redis.client, {
            keyPrefix,
            retentionMs: config.COMMAND_STATUS_RETENTION_S * 1000,
          }),
          notifications: new RedisNotificationLog({
            client: redis.client,
            keyPrefix,
            maxLength: config.NOTIFICATION_LOG_MAX_LENGTH,
            retentionMs: config.NOTIFICATION_LOG_RETENTION_MS,
          }),
          ...(config.EAGER_NOTIFICATIONS && {
            eagerNotifications: { groups: readModels.groups, positions: readModels.positions },
          }),
          drainOwnCommandTopics: config.DRAIN_OLD_COMMAND_TOPICS,
          speed: config.TRAINER_SPEED,
          maxGroups: config.TRAINER_MAX_GROUPS,
          groupLimit: { maxMembers: config.GROUP_MAX_MEMBERS, groups: readModels.groups },
          now: () => new Date(clock.now()),
          clockSkewMs: config.COMMAND_CLOCK_SKEW_MS,
          snapshotEvery: config.SNAPSHOT_EVERY,
          forwarder: {
            checkpoints: new MongoCheckpointStore(mongo.client, 'trainer_service_checkpoints'),
            pollIntervalMs: config.FORWARDER_POLL_INTERVAL_MS,
            ledger,
            lease: new RedisLease({
              client: redis.client,
              key: `${keyPrefix}trainer-service:forwarder:lease`,
              ttlMs: config.FORWARDER_LEASE_MS,
              holder: instanceId,
            }),
          },
          // The connection opens in the background (ConnectionsLifecycle retries while MongoDB is
          // down); the stores need it open to create their collections and indexes.
          ready: async () => {
            await whenOpen(mongo.client);
            await eventStore.init();
            await snapshots.init();
            // Joins count the members of their group in the read models (GROUP_MAX_MEMBERS).
            await readModels.init();
          },
        }),
      ],
    };
  }
}
