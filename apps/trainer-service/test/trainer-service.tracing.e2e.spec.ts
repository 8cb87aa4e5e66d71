import path from 'node:path';
import Redis from 'ioredis';
import { MessageFactory, topicNaming } from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { RedisStreamsPublisher } from '@causeway/cqrs-core/redis';
import { contractsSerializer, type CommandStatus } from '@causeway/contracts';
import { COMMAND_TOPICS, RedisCommandStatusStore } from '@causeway/platform';
import {
  OtlpReceiver,
  type ServiceProcess,
  startServiceProcess,
  testNamespace,
  waitForStatus,
} from '@causeway/testkit';

// trainer-service as a real process exporting its spans over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT)
// to a receiver in this test: a command that arrives with a trace context is handled in a span
// of that trace, and the event it stores carries the span on to its consumers.
jest.setTimeout(120_000);

const ns = testNamespace('trainerotel');
const prefix = ns.id;
const keyPrefix = `${prefix}:`;
const naming = topicNaming(prefix, { commandTopics: COMMAND_TOPICS });
const serializer = contractsSerializer();
const factory = new MessageFactory();

let redis: Redis;
let publisher: RedisStreamsPublisher;
let statuses: RedisCommandStatusStore;
let mongo: ReturnType<typeof mongoConnection>;
let receiver: OtlpReceiver;
let service: ServiceProcess | undefined;

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  publisher = new RedisStreamsPublisher({ client: redis, serializer, keyPrefix });
  statuses = new RedisCommandStatusStore(redis, { keyPrefix });
  mongo = mongoConnection({ uri: ns.mongoUri(), name: 'verifier' });
  await mongo.open();
  receiver = await OtlpReceiver.start();
});

afterAll(async () => {
  await service?.stop('SIGKILL');
  await publisher?.close();
  const keys = await redis.keys(`${keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await mongo.client.dropDatabase();
  await mongo.close();
  await receiver?.close();
});

it('handles a traced command in a span of its trace, exported over OTLP, and the stored event carries the span on', async () => {
  service = await startServiceProcess({
    appDir: path.join(__dirname, '..'),
    env: {
      REDIS_URL: ns.redisUrl,
      MONGODB_URI: ns.mongoUri(),
      ADMIN_TOKEN: 'admin-token-0123456789',
      TOPIC_PREFIX: prefix,
      INSTANCE_ID: 'trainer-otel',
      LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'trainers',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,service.name=ignored',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
  await waitForStatus(`${service.url}/health/ready`, 200, 60_000);

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const command = factory.command(
    'MoveTrainerCommand',
    { trainerId: 'ash', directionX: 1, directionY: 0, action: 'start', timestamp: Date.now() },
    {
      aggregateId: 'ash',
      causedBy: null,
      metadata: { issuerId: 'ash', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    },
  );
  await publisher.publish(naming.command(command.type), [command]);

  const handled = await receiver.waitFor(
    (span) => span.name === `process ${naming.command(command.type)}`,
    'for the command',
  );
  expect(handled).toMatchObject({
    service: 'trainers', // OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES
    resource: { 'service.instance.id': 'trainer-otel', 'deployment.environment.name': 'test' },
    traceId,
    parentSpanId: '00f067aa0ba902b7',
    kind: 5, // CONSUMER
    statusCode: 0,
    attributes: {
      'messaging.system': 'redis',
      'messaging.message.id': command.messageId,
      'causeway.message.type': 'MoveTrainerCommand',
      'causeway.outcome': 'success',
      'causeway.attempt': 1,
    },
  });
  const status = (await statuses.get(command.messageId)) as CommandStatus;
  expect(status.status).toBe('processed');
  const store = new MongoEventStore({ connection: mongo.client, serializer });
  await store.init();
  const [event] = await store.readStream('trainer-ash');
  expect(event!.metadata.traceparent).toBe(`00-${traceId}-${handled.spanId}-01`);
});

it('traces a command the trainer refuses as refused, not as an error or a success', async () => {
  const command = factory.command(
    'ChangeGroupCommand',
    { trainerId: 'nobody', groupId: 'g1', action: 'join', timestamp: Date.now() },
    { aggregateId: 'nobody', causedBy: null, metadata: { issuerId: 'nobody' } },
  );
  await publisher.publish(naming.command(command.type), [command]);
  const refused = await receiver.waitFor(
    (span) => span.attributes['messaging.message.id'] === command.messageId,
    'for the refused command',
  );
  expect(refused).toMatchObject({
    statusCode: 0,
    attributes: {
      'causeway.outcome': 'refused',
      'causeway.refusal': 'TrainerCommandRejected',
    },
  });
  expect(await statuses.get(command.messageId)).toMatchObject({
    status: 'rejected',
    reason: expect.stringContaining('nobody'),
  });
});
