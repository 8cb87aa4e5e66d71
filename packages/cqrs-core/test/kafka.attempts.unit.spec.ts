import { attemptMarker, parseAttemptMarker } from '../src/kafka/kafka.attempts';

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
