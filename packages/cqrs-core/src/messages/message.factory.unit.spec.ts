import { MessageFactory, createMessage } from './message.factory';
import { currentMessage, runInMessageContext } from './message-context';

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
