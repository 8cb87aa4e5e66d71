import { randomUUID } from 'node:crypto';
import { MessageFactory } from './message.factory';
import { commandEventId, derivedMessageId } from './message.id';

describe('derivedMessageId', () => {
  const cause = new MessageFactory().event('MoneyDeposited', { amount: 5 });

  it('is a version-5 UUID, the same for the same cause and key, another for any other', () => {
    const id = derivedMessageId(cause, 'fee');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedMessageId(cause, 'fee')).toBe(id);
    expect(derivedMessageId(cause.messageId, 'fee')).toBe(id);
    expect(derivedMessageId(cause, 'receipt')).not.toBe(id);
    expect(derivedMessageId(randomUUID(), 'fee')).not.toBe(id);
    // No ambiguity between where the cause's id ends and the key begins.
    expect(derivedMessageId('ab', 'c')).not.toBe(derivedMessageId('a', 'bc'));
    expect(derivedMessageId('a\u0000b', 'c')).not.toBe(derivedMessageId('a', 'b\u0000c'));
  });

  it('refuses an empty key or a cause without an id', () => {
    expect(() => derivedMessageId(cause, '')).toThrow('key must be a non-empty string');
    expect(() => derivedMessageId('', 'fee')).toThrow('the cause must be a message');
    expect(() => derivedMessageId({} as never, 'fee')).toThrow('the cause must be a message');
  });

  it('is the id of a message the factory makes with it (an empty id is refused)', () => {
    expect(() => new MessageFactory().event('Fee', {}, { messageId: '' })).toThrow(
      'MessageFactory: messageId must be a non-empty string, got ""',
    );
    const messageId = derivedMessageId(cause, 'fee');
    const fee = new MessageFactory().command(
      'Withdraw',
      { amount: 1 },
      { messageId, causedBy: cause },
    );
    expect(fee.messageId).toBe(messageId);
    expect(fee.metadata).toMatchObject({
      causationId: cause.messageId,
      correlationId: cause.metadata.correlationId,
    });
  });
});

describe('commandEventId', () => {
  it('is the same for the same command and index, and differs by either', () => {
    expect(commandEventId('cmd-1', 0)).toBe(commandEventId('cmd-1', 0));
    expect(commandEventId('cmd-1', 0)).toBe(derivedMessageId('cmd-1', 'event:0'));
    expect(commandEventId('cmd-1', 1)).not.toBe(commandEventId('cmd-1', 0));
    expect(commandEventId('cmd-2', 0)).not.toBe(commandEventId('cmd-1', 0));
  });

  it('refuses an index that is not a non-negative integer, and an empty command id', () => {
    for (const index of [-1, 1.5, Number.NaN]) {
      expect(() => commandEventId('cmd-1', index)).toThrow(TypeError);
    }
    expect(() => commandEventId('', 0)).toThrow(TypeError);
  });
});
