import { z } from 'zod';
import { circuitBreaker } from '../middleware/circuit-breaker.middleware';
import { retry } from '../middleware/retry.middleware';
import { checkRetentionMs } from '../kafka/kafka.topics';
import { checkMaxMessageBytes } from '../messages/envelope.size';
import { messageType } from '../messages/message.type';
import { SnapshotCodec } from '../snapshots/snapshot.codec';

/**
 * A review (session 42): about 35 messages refusing a setting showed it with String(), so a
 * string read from the environment, '3', printed as `got 3`, and the user could not see why 3
 * was refused. They show it as shownValue does: strings quoted, so '3' and 3 differ.
 */
describe('errors refusing a setting show a string as a string', () => {
  it.each([
    ['retry maxAttempts', () => retry({ maxAttempts: '3' as unknown as number }), 'got "3"'],
    [
      'retry initialDelayMs',
      () => retry({ initialDelayMs: '100' as unknown as number }),
      'got "100"',
    ],
    [
      'circuitBreaker failureThreshold',
      () => circuitBreaker({ failureThreshold: '5' as unknown as number }),
      'got "5"',
    ],
    [
      'messageType version',
      () => messageType('Moved', z.object({}), { version: '2' as unknown as number }),
      'got "2"',
    ],
    ['kafka retentionMs', () => checkRetentionMs('604800000'), 'got "604800000"'],
    ['maxMessageBytes', () => checkMaxMessageBytes('RedisStreamsPublisher', '1000'), 'got "1000"'],
    [
      'snapshot compressAboveBytes',
      () => new SnapshotCodec({ compressAboveBytes: '8192' as unknown as number }),
      'got "8192"',
    ],
  ])('%s', (_setting, build, shown) => {
    expect(build).toThrow(shown);
  });

  it('still shows a number as a number', () => {
    expect(() => retry({ maxAttempts: 0 })).toThrow(/got 0$/);
  });
});
