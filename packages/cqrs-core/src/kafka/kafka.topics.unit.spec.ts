import { type Admin, KafkaJSAggregateError, KafkaJSProtocolError } from 'kafkajs';
import { DEFAULT_MAX_WIRE_BYTES } from '../messages/json.serializer';
import { InvalidTopicError } from '../transport/transport.errors';
import { KafkaTopicConfigError, KafkaTopicUnavailableError } from './kafka.errors';
import { kafkaTopicConfig, KafkaTopics, topicCreationError } from './kafka.topics';

/** What kafkajs's createTopics rejects with: "Topic creation errors", the details in `errors`. */
function creationErrors(
  ...errors: { topic: string; type: string; code: number; message: string }[]
) {
  return new KafkaJSAggregateError(
    'Topic creation errors',
    errors.map(({ topic, ...e }) =>
      Object.assign(new KafkaJSProtocolError(e as unknown as Error), { topic }),
    ),
  );
}

const replication = {
  topic: 't',
  type: 'INVALID_REPLICATION_FACTOR',
  code: 38,
  message: 'Replication-factor is invalid',
};

describe('topicCreationError', () => {
  it('makes INVALID_REPLICATION_FACTOR permanent, naming the code, its message and the option', () => {
    const error = topicCreationError('t', creationErrors(replication), { replicationFactor: 3 });
    expect(error).toBeInstanceOf(KafkaTopicConfigError);
    expect(error).toBeInstanceOf(KafkaTopicUnavailableError);
    // Not the message's fault: the outbox must not set events aside for it.
    expect(error).not.toBeInstanceOf(InvalidTopicError);
    expect(error).toMatchObject({
      code: 'INVALID_REPLICATION_FACTOR',
      option: 'replicationFactor',
      permanent: true,
      topic: 't',
    });
    expect(error.message).toBe(
      'Kafka refused to create topic "t": INVALID_REPLICATION_FACTOR (Replication-factor is invalid);' +
        ' the cluster has fewer brokers: lower the `replicationFactor` option (now 3)',
    );
  });

  it.each([
    ['INVALID_PARTITIONS', 37, 'partitions'],
    ['INVALID_CONFIG', 40, 'maxMessageBytes'],
    ['INVALID_REPLICA_ASSIGNMENT', 39, 'replicationFactor'],
    ['POLICY_VIOLATION', 44, undefined],
    ['TOPIC_AUTHORIZATION_FAILED', 29, undefined],
    ['CLUSTER_AUTHORIZATION_FAILED', 31, undefined],
  ])('makes %s permanent', (type, code, option) => {
    const error = topicCreationError('t', creationErrors({ topic: 't', type, code, message: 'm' }));
    expect(error).toBeInstanceOf(KafkaTopicConfigError);
    expect(error).toMatchObject({ code: type, option });
    expect(error.message).toContain(`${type} (m)`);
    if (option) expect(error.message).toContain(`\`${option}\``);
  });

  it('keeps retriable answers retriable, with their detail instead of only "Topic creation errors"', () => {
    const error = topicCreationError(
      't',
      creationErrors({
        topic: 't',
        type: 'NOT_CONTROLLER',
        code: 41,
        message: 'This is not the correct controller for this cluster',
      }),
    );
    expect(error).toBeInstanceOf(KafkaTopicUnavailableError);
    expect(error).not.toBeInstanceOf(KafkaTopicConfigError);
    expect(error.message).toBe(
      'Kafka topic "t" is not available: NOT_CONTROLLER (This is not the correct controller for this cluster)',
    );
    expect(topicCreationError('t', new Error('Connection timeout')).message).toBe(
      'Kafka topic "t" is not available: Connection timeout',
    );
  });
});

describe('KafkaTopics', () => {
  it('rejects at once with the permanent error, and asks Kafka again on the next call', async () => {
    const createTopics = jest.fn().mockRejectedValue(creationErrors(replication));
    const topics = new KafkaTopics({ createTopics } as unknown as Admin, { replicationFactor: 3 });
    await expect(topics.ensure(['t'])).rejects.toThrow(KafkaTopicConfigError);
    await expect(topics.ensure(['t'])).rejects.toThrow(/`replicationFactor` option \(now 3\)/);
    expect(createTopics).toHaveBeenCalledTimes(2);
  });
});

describe('kafkaTopicConfig (the config entries of topics the transport creates)', () => {
  const entries = (options: Parameters<typeof kafkaTopicConfig>[0]) =>
    Object.fromEntries(kafkaTopicConfig(options).map(({ name, value }) => [name, value]));

  it('single broker (replicationFactor 1): room for maxMessageBytes, batches as produced, no min.insync.replicas', () => {
    expect(entries({})).toEqual({
      'max.message.bytes': String(DEFAULT_MAX_WIRE_BYTES + 64 * 1024),
      'compression.type': 'producer',
    });
  });

  it('replicated topics require 2 in-sync replicas for acks=all, so one broker alone cannot acknowledge', () => {
    expect(entries({ replicationFactor: 3 })).toMatchObject({ 'min.insync.replicas': '2' });
    expect(entries({ replicationFactor: 2 })).toMatchObject({ 'min.insync.replicas': '2' });
  });

  it('minInSyncReplicas overrides it', () => {
    expect(entries({ replicationFactor: 5, minInSyncReplicas: 3 })).toMatchObject({
      'min.insync.replicas': '3',
    });
    expect(entries({ replicationFactor: 3, minInSyncReplicas: 1 })).toMatchObject({
      'min.insync.replicas': '1',
    });
  });
});
