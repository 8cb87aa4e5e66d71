import { type Admin } from 'kafkajs';
import { attemptMarker, DeliveryAttempts, parseAttemptMarker } from '../src/kafka/kafka.attempts';

describe('kafka attempt markers', () => {
  it('round-trips the attempt number through the committed offset metadata', () => {
    expect(attemptMarker(3)).toBe('causeway:attempt=3');
    expect(parseAttemptMarker(attemptMarker(3))).toBe(3);
  });

  it('reads no attempts from metadata written by anything else', () => {
    expect(parseAttemptMarker(null)).toBe(0);
    expect(parseAttemptMarker('')).toBe(0);
    expect(parseAttemptMarker('kafka-console-consumer')).toBe(0);
    expect(parseAttemptMarker('causeway:attempt=x')).toBe(0);
  });
});

describe('DeliveryAttempts', () => {
  // Only begin(…, fromCommitted: true) reads the broker; these never do.
  const attempts = () => new DeliveryAttempts({} as Admin, 'g');

  it('counts redeliveries of a message in process', () => {
    const counted = attempts();
    expect(counted.beginNext('t', 0, '5')).toBe(1);
    expect(counted.beginNext('t', 0, '5')).toBe(2);
    counted.settle('t', 0, '5');
    expect(counted.beginNext('t', 0, '5')).toBe(1);
  });

  it('forgets the messages of partitions no longer assigned (review 16, LOW-3.1: they leaked)', () => {
    const counted = attempts();
    counted.beginNext('t', 0, '5'); // nacked, then the partition moves to another member
    counted.beginNext('t', 1, '7');
    counted.beginNext('u', 0, '9');
    counted.retain({ t: [1] });
    expect(counted.size).toBe(1);
    expect(counted.beginNext('t', 1, '7')).toBe(2); // still assigned: the count goes on
    expect(counted.beginNext('t', 0, '5')).toBe(1); // back later: the committed marker counts
  });
});
