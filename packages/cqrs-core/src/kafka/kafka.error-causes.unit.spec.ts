import { errorCauses, hasErrorType } from './kafka.error-causes';

/** An error of kafkajs `type` wrapping `cause`, as KafkaJSNumberOfRetriesExceeded wraps one. */
const kafkaError = (type: string | undefined, cause?: unknown) =>
  Object.assign(new Error(type ?? 'plain'), { type, cause });

describe('hasErrorType', () => {
  it('finds the type on the error itself or along its causes', () => {
    const gone = kafkaError('UNKNOWN_TOPIC_OR_PARTITION');
    expect(hasErrorType(gone, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
    const wrapped = kafkaError(undefined, kafkaError('LEADER_NOT_AVAILABLE', gone));
    expect(hasErrorType(wrapped, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
    expect(hasErrorType(wrapped, 'LEADER_NOT_AVAILABLE')).toBe(true);
    expect(hasErrorType(wrapped, 'REBALANCE_IN_PROGRESS')).toBe(false);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['an error without a type', new Error('x')],
  ])('answers false for %s', (_what, error) => {
    expect(hasErrorType(error, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(false);
  });

  it('reads five errors of a chain, no deeper', () => {
    let chain: Error = kafkaError('UNKNOWN_TOPIC_OR_PARTITION');
    for (let i = 0; i < 4; i++) chain = kafkaError(undefined, chain);
    expect(hasErrorType(chain, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
    expect(hasErrorType(kafkaError(undefined, chain), 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(false);
  });

  it('ends on a chain that loops back, reading each error once', () => {
    const first = kafkaError(undefined);
    const second = kafkaError(undefined, first);
    first.cause = second;
    expect(hasErrorType(first, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(false);
    expect(errorCauses(first)).toEqual([first, second]);
    const own = kafkaError(undefined);
    own.cause = own;
    expect(errorCauses(own)).toEqual([own]);
  });
});

describe('errorCauses', () => {
  it('lists the error then its causes, outermost first', () => {
    const inner = kafkaError('A');
    const outer = kafkaError('B', inner);
    expect(errorCauses(outer)).toEqual([outer, inner]);
    expect(errorCauses(undefined)).toEqual([]);
  });
});
