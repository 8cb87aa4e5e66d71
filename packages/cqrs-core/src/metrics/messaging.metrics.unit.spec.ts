import { Registry } from 'prom-client';
import { Refusal } from '../buses/command-bus';
import { DomainError } from '../router/handler.errors';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { BreakerRegistry, circuitBreaker } from '../middleware/circuit-breaker.middleware';
import { MessagingMetrics } from './messaging.metrics';

describe('MessagingMetrics', () => {
  it('counts a refused command apart from a success', async () => {
    const registry = new Registry();
    const metrics = new MessagingMetrics(registry);
    const info = { name: 'accounts', topics: ['commands.Withdraw'], group: 'g' };
    const refuse = metrics.middleware()(async () => new Refusal(new DomainError('no money')), info);
    const succeed = metrics.middleware()(async () => ({ balance: 1 }), info);
    await refuse(testDelivery(testEnvelope('Withdraw', {})));
    await succeed(testDelivery(testEnvelope('Withdraw', {})));
    const { values } = await metrics.handled.get();
    const count = (outcome: string) =>
      values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
    expect([count('refused'), count('success')]).toEqual([1, 1]);
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
});
