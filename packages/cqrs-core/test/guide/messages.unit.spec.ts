import {
  ChecksumMismatchError,
  JsonSerializer,
  MessageFactory,
  MessageValidationError,
  runInMessageContext,
  SerializerRegistry,
  UnknownMessageTypeError,
} from '@causeway/cqrs-core';
import { z } from 'zod';

describe('guide: messages', () => {
  it('creates envelopes with ids, timestamps and correlation', () => {
    // #region guide:message-factory
    const messages = new MessageFactory({ issuerId: 'teller-app', issuerType: 'service' });
    const command = messages.command(
      'Deposit',
      { amount: 50 },
      { aggregateId: 'acc-1', aggregateType: 'Account' },
    );
    // command.messageId: a fresh uuid v4; command.version: 0 (not stored in a stream)
    // command.metadata: { issuerId, issuerType, correlationId: command.messageId,
    //   category: 'command', priority: 'normal', schemaVersion: 1, timestamp }

    const event = messages.event('MoneyDeposited', { amount: 50 }, { causedBy: command });
    // event.metadata.causationId === command.messageId
    // event.metadata.correlationId === command.metadata.correlationId
    // #endregion
    expect(command.metadata).toMatchObject({
      issuerId: 'teller-app',
      correlationId: command.messageId,
      category: 'command',
      priority: 'normal',
      schemaVersion: 1,
    });
    expect(command.version).toBe(0);
    expect(event.metadata.causationId).toBe(command.messageId);
    expect(event.metadata.correlationId).toBe(command.messageId);
  });

  it('derives the cause from the message being handled', async () => {
    const messages = new MessageFactory();
    const command = messages.command('Deposit', { amount: 50 });
    // #region guide:message-context
    const event = await runInMessageContext(command, async () =>
      messages.event('MoneyDeposited', { amount: 50 }),
    );
    // #endregion
    expect(event.metadata.causationId).toBe(command.messageId);
    expect(messages.event('X', {}, { causedBy: null }).metadata.causationId).toBeUndefined();
  });

  it('validates, checksums and upcasts with the registry', () => {
    const messages = new MessageFactory();
    // #region guide:serializer-registry
    const serializer = new SerializerRegistry({ maxMessageBytes: 64 * 1024 })
      .register('AccountOpened', z.object({ owner: z.string(), currency: z.string() }), {
        version: 2,
      })
      // v1 had no currency: every account opened before v2 was in euros.
      .upcaster('AccountOpened', 1, (data) => ({ ...(data as object), currency: 'EUR' }))
      .register('MoneyDeposited', z.object({ amount: z.number().positive() }));
    serializer.assertUpcastersComplete(); // at start-up: a missing step fails the deploy

    const wire = serializer.serialize(messages.event('MoneyDeposited', { amount: 5 }));
    // wire.data === '{"amount":5}', wire.metadata.checksum === 'sha256:…'
    expect(() => serializer.serialize(messages.event('MoneyDeposited', { amount: -5 }))).toThrow(
      MessageValidationError, // "Invalid MoneyDeposited: amount …"
    );
    // #endregion
    expect(wire.data).toBe('{"amount":5}');
    expect(wire.metadata.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(serializer.deserialize(wire).data).toEqual({ amount: 5 });
    expect(() => serializer.serialize(messages.event('Nope', {}))).toThrow(UnknownMessageTypeError);
    expect(() => serializer.deserialize({ ...wire, data: '{"amount":6}' })).toThrow(
      ChecksumMismatchError,
    );

    // An event written at v1, before `currency` existed, reads as v2.
    const old = new JsonSerializer().serialize(
      messages.event('AccountOpened', { owner: 'ada' }, { schemaVersion: 1 }),
    );
    const lifted = serializer.deserialize(old);
    expect(lifted.data).toEqual({ owner: 'ada', currency: 'EUR' });
    expect(lifted.metadata.schemaVersion).toBe(2);
  });

  it('the validation error names the field', () => {
    const serializer = new SerializerRegistry().register(
      'MoneyDeposited',
      z.object({ amount: z.number().positive() }),
    );
    const error = (() => {
      try {
        serializer.serialize(new MessageFactory().event('MoneyDeposited', { amount: -5 }));
      } catch (e) {
        return e as MessageValidationError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(MessageValidationError);
    expect(error?.field).toBe('amount');
    expect(error?.message).toMatch(/^Invalid MoneyDeposited: amount /);
  });
});
