import { Registry } from 'prom-client';
import { CommandExpiredError } from '../buses/bus.errors';
import { Refusal } from '../buses/command-bus';
import { DeferredError, DomainError } from '../router/handler.errors';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { BreakerRegistry, circuitBreaker } from '../middleware/circuit-breaker.middleware';
import { retry } from '../middleware/retry.middleware';
import { compose } from '../router/handler';
import { MessagingMetrics } from './messaging.metrics';

describe('MessagingMetrics', () => {
  it('counts a refused command, an expired one and a success apart', async () => {
    const registry = new Registry();
    const metrics = new MessagingMetrics(registry);
    const info = { name: 'accounts', topics: ['commands.Withdraw'], group: 'g' };
    const refuse = metrics.middleware()(async () => new Refusal(new DomainError('no money')), info);
    const command = testEnvelope('Withdraw', {});
    const expire = metrics.middleware()(
      async () =>
        new Refusal(
          new CommandExpiredError(command.messageId, 'Withdraw', new Date(0).toISOString()),
        ),
      info,
    );
    const succeed = metrics.middleware()(async () => ({ balance: 1 }), info);
    await refuse(testDelivery(command));
    await expire(testDelivery(command));
    await expire(testDelivery(command));
    await succeed(testDelivery(command));
    const { values } = await metrics.handled.get();
    const count = (outcome: string) =>
      values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
    expect([count('refused'), count('expired'), count('success')]).toEqual([1, 2, 1]);
  });

  it('measures the latency of handled deliveries, not of those an open breaker deferred', async () => {
    const registry = new Registry();
    const metrics = new MessagingMetrics(registry);
    const info = { name: 'accounts', topics: ['events.Paid'], group: 'g' };
    const deferred = metrics.middleware()(async () => {
      throw new DeferredError('the breaker is open');
    }, info);
    const failing = metrics.middleware()(async () => {
      throw new Error('downstream 503');
    }, info);
    const succeed = metrics.middleware()(async () => undefined, info);
    const paid = testEnvelope('Paid', {});
    for (let i = 0; i < 5; i++) await expect(deferred(testDelivery(paid))).rejects.toThrow();
    await expect(failing(testDelivery(paid))).rejects.toThrow('downstream 503');
    await succeed(testDelivery(paid));
    const { values } = await metrics.latency.get();
    const count = values.find((value) => value.metricName?.endsWith('_count'))?.value;
    expect(count).toBe(2);
    const handled = (await metrics.handled.get()).values;
    expect(handled.find((value) => value.labels.outcome === 'deferred')?.value).toBe(5);
  });

  it('shows every breaker as closed (0) from the start, before any state change', async () => {
    const metrics = new MessagingMetrics(new Registry());
    const breakers = new BreakerRegistry();
    const info = (name: string) => ({ name, topics: ['t'], group: 'g' });
    circuitBreaker({ registry: breakers })(async () => undefined, info('early'));
    metrics.watchBreakers(breakers);
    circuitBreaker({ registry: breakers })(async () => undefined, info('late'));
    const { values } = await metrics.breaker.get();
    expect(values.map((v) => [v.labels.handler, v.value]).sort()).toEqual([
      ['early', 0],
      ['late', 0],
    ]);
  });
  it('counts retries per topic and handler, as every other counter: one type on two topics apart', async () => {
    const metrics = new MessagingMetrics(new Registry());
    const info = {
      name: 'trainer',
      topics: ['commands.Trainer', 'commands.MoveTrainer'],
      group: 'g',
    };
    let calls = 0;
    const handler = compose(
      [
        metrics.middleware(),
        retry({ maxAttempts: 2, initialDelayMs: 1, onRetry: metrics.onRetry }),
      ],
      async () => {
        if (calls++ % 2 === 0) throw new Error('flaky');
      },
      info,
    );
    const move = testEnvelope('MoveTrainer', {});
    await handler(testDelivery(move, { topic: 'commands.Trainer' }));
    await handler(testDelivery(move, { topic: 'commands.Trainer' }));
    await handler(testDelivery(move, { topic: 'commands.MoveTrainer' }));
    const { values } = await metrics.retried.get();
    expect(values.map((value) => [value.labels, value.value])).toEqual([
      [{ topic: 'commands.Trainer', handler: 'trainer', type: 'MoveTrainer' }, 2],
      [{ topic: 'commands.MoveTrainer', handler: 'trainer', type: 'MoveTrainer' }, 1],
    ]);
  });

  it('shares its metrics with a second instance on the same registry instead of throwing', async () => {
    // Two routers (or a Nest module initialised twice) in one process with one registry.
    const registry = new Registry();
    const first = new MessagingMetrics(registry);
    const second = new MessagingMetrics(registry);
    const info = { name: 'accounts', topics: ['events.Paid'], group: 'g' };
    const paid = testEnvelope('Paid', {});
    await first.middleware()(async () => undefined, info)(testDelivery(paid));
    await second.middleware()(async () => undefined, info)(testDelivery(paid));
    second.onRetry({ handler: 'accounts', topic: 'events.Paid', type: 'Paid' });
    const text = await registry.metrics();
    // One series, counted once per delivery: not two registrations, nor a count doubled.
    expect(text).toContain(
      'causeway_messages_handled_total{topic="events.Paid",handler="accounts",outcome="success"} 2',
    );
    expect(text).toContain(
      'causeway_handler_duration_seconds_count{topic="events.Paid",handler="accounts"} 2',
    );
    expect(text).toContain(
      'causeway_messages_retried_total{topic="events.Paid",handler="accounts",type="Paid"} 1',
    );
    expect(text.match(/# TYPE causeway_messages_handled_total /g)).toHaveLength(1);
  });
});
