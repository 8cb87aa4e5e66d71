import { z } from 'zod';
import { JsonSerializer } from './json.serializer';
import { MessageFactory, createMessage } from './message.factory';
import { currentMessage, runInMessageContext } from './message-context';
import { messageType } from './message.type';
import { SerializerRegistry } from './serializer.registry';

describe('MessageFactory', () => {
  const fixedNow = new Date('2026-01-02T03:04:05.678Z');
  let counter = 0;
  const factory = new MessageFactory({
    now: () => fixedNow,
    newId: () => `id-${++counter}`,
    issuerId: 'trainer-service',
    issuerType: 'service',
  });
  beforeEach(() => {
    counter = 0;
  });

  it('creates an envelope with id, ISO timestamp, category, default priority and schema version', () => {
    const command = factory.command(
      'MoveTrainerCommand',
      { x: 1 },
      { aggregateId: 'ash', aggregateType: 'Trainer' },
    );
    expect(command).toEqual({
      messageId: 'id-1',
      type: 'MoveTrainerCommand',
      aggregateId: 'ash',
      aggregateType: 'Trainer',
      version: 0,
      data: { x: 1 },
      metadata: {
        issuerId: 'trainer-service',
        issuerType: 'service',
        correlationId: 'id-1',
        category: 'command',
        priority: 'normal',
        schemaVersion: 1,
        timestamp: '2026-01-02T03:04:05.678Z',
      },
    });
  });

  it('starts a conversation outside any message context: correlationId is its own id, no causation', () => {
    const event = factory.event('TrainerMovedEvent', {});
    expect(event.metadata.correlationId).toBe(event.messageId);
    expect(event.metadata.causationId).toBeUndefined();
  });

  it('derives causation and correlation from the message being handled, across awaits', async () => {
    const command = factory.command(
      'MoveTrainerCommand',
      {},
      { metadata: { correlationId: 'conv-1' } },
    );
    const [first, second] = await runInMessageContext(command, async () => {
      const a = factory.event('TrainerMovedEvent', {});
      await new Promise((resolve) => setTimeout(resolve, 1));
      const b = factory.event('TrainerMovedEvent', {});
      return [a, b];
    });
    for (const event of [first, second]) {
      expect(event?.metadata.causationId).toBe(command.messageId);
      expect(event?.metadata.correlationId).toBe('conv-1');
    }
  });

  it("uses the cause's own id as correlation when the cause has none, and the innermost context wins", () => {
    const outer = factory.create({
      type: 'A',
      data: {},
      category: 'command',
      causedBy: null,
      metadata: { correlationId: undefined },
    });
    const inner = factory.event('B', {});
    const produced = runInMessageContext(outer, () =>
      runInMessageContext(inner, () => factory.event('C', {})),
    );
    expect(produced.metadata.causationId).toBe(inner.messageId);
    expect(produced.metadata.correlationId).toBe(inner.messageId);

    const fromOuter = runInMessageContext(outer, () => factory.event('D', {}));
    expect(fromOuter.metadata.correlationId).toBe(outer.messageId);
    expect(currentMessage()).toBeUndefined();
  });

  it('lets explicit causedBy and explicit metadata override the context', () => {
    const context = factory.event('A', {});
    const explicitCause = factory.event('B', {}, { metadata: { correlationId: 'other' } });
    runInMessageContext(context, () => {
      const caused = factory.event('C', {}, { causedBy: explicitCause });
      expect(caused.metadata).toMatchObject({
        causationId: explicitCause.messageId,
        correlationId: 'other',
      });
      const fresh = factory.event('D', {}, { causedBy: null });
      expect(fresh.metadata.causationId).toBeUndefined();
      expect(fresh.metadata.correlationId).toBe(fresh.messageId);
      const overridden = factory.event(
        'E',
        {},
        { priority: 'critical', metadata: { causationId: 'x', tenant: 't1' } },
      );
      expect(overridden.metadata).toMatchObject({
        causationId: 'x',
        priority: 'critical',
        tenant: 't1',
      });
    });
  });

  describe('schema version', () => {
    const AccountOpened = messageType(
      'AccountOpened',
      z.object({ owner: z.string(), currency: z.string() }),
      { version: 2 },
    );

    it('defaults to the version of a message type, and to 1 for a type name', () => {
      expect(
        factory.event(AccountOpened, { owner: 'ada', currency: 'USD' }).metadata,
      ).toMatchObject({ schemaVersion: 2 });
      expect(
        factory.command(AccountOpened, { owner: 'ada', currency: 'USD' }).metadata,
      ).toMatchObject({ schemaVersion: 2 });
      const created = factory.create({
        type: AccountOpened,
        data: { owner: 'ada', currency: 'USD' },
        category: 'event',
      });
      expect(created).toMatchObject({ type: 'AccountOpened', metadata: { schemaVersion: 2 } });
      expect(factory.event('AccountOpened', {}).metadata.schemaVersion).toBe(1);
    });

    it('lets an explicit schemaVersion win over the type’s', () => {
      const event = factory.event(
        AccountOpened,
        { owner: 'ada', currency: 'USD' },
        { schemaVersion: 1 },
      );
      expect(event.metadata.schemaVersion).toBe(1);
    });

    it('keeps v2 data from being upcast again when a JsonSerializer store is read through a registry', () => {
      const registry = new SerializerRegistry()
        .register(AccountOpened)
        .upcaster(AccountOpened, 1, (data) => ({ ...(data as object), currency: 'EUR' }));
      const stored = new JsonSerializer().serialize(
        factory.event(AccountOpened, { owner: 'ada', currency: 'USD' }),
      );
      expect(registry.deserialize(stored).data).toEqual({ owner: 'ada', currency: 'USD' });
    });
  });

  it('createMessage uses uuid v4 ids and the system clock', () => {
    const before = Date.now();
    const message = createMessage({ type: 'Ping', data: null, category: 'notification' });
    expect(message.messageId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const at = Date.parse(message.metadata.timestamp);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
    expect(
      createMessage({ type: 'Ping', data: null, category: 'notification' }).messageId,
    ).not.toBe(message.messageId);
  });
});
