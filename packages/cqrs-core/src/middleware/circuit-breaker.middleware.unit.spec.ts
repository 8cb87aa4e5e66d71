import { DeferredError, PermanentError } from '../router/handler.errors';
import { type HandlerInfo } from '../router/handler';
import { testDelivery, testEnvelope } from '../testing/envelope.fixture';
import { Registry } from 'prom-client';
import { MessagingMetrics } from '../metrics/messaging.metrics';
import { breakersProbe } from './breakers.probe';
import { BreakerRegistry, circuitBreaker } from './circuit-breaker.middleware';

const info: HandlerInfo = { name: 'payments', topics: ['t'], group: 'g' };
const delivery = () => testDelivery(testEnvelope('T', {}));

describe('circuit breaker middleware', () => {
  afterEach(() => jest.useRealTimers());

  it('opens after consecutive failures, defers deliveries while open, half-opens and closes again', async () => {
    // The clock stands still unless the test moves it: a slow machine cannot half-open the
    // breaker between the failures and the call that must find it open.
    jest.useFakeTimers({ now: 1_000_000 });
    const registry = new BreakerRegistry();
    const transitions: string[] = [];
    registry.onStateChange((handler, state) => transitions.push(`${handler}:${state}`));
    let healthy = false;
    let calls = 0;
    const handler = circuitBreaker({ failureThreshold: 3, halfOpenAfterMs: 50, registry })(
      async () => {
        calls++;
        if (!healthy) throw new Error('payment gateway down');
        return 'paid';
      },
      info,
    );

    for (let i = 0; i < 3; i++)
      await expect(handler(delivery())).rejects.toThrow('payment gateway down');
    expect(registry.states()).toEqual({ payments: 'open' });
    await expect(handler(delivery())).rejects.toBeInstanceOf(DeferredError);
    expect(calls).toBe(3); // not called while open

    jest.advanceTimersByTime(49);
    await expect(handler(delivery())).rejects.toBeInstanceOf(DeferredError);
    jest.advanceTimersByTime(2);
    healthy = true;
    await expect(handler(delivery())).resolves.toBe('paid');
    expect(registry.states()).toEqual({ payments: 'closed' });
    // The initial state when the handler registered, then each change.
    expect(transitions).toEqual([
      'payments:closed',
      'payments:open',
      'payments:half-open',
      'payments:closed',
    ]);
  });

  it('reports half-open in health and metrics once halfOpenAfterMs has passed, with no more deliveries', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const registry = new BreakerRegistry();
    const metrics = new MessagingMetrics(new Registry());
    metrics.watchBreakers(registry);
    const probe = breakersProbe(registry);
    const gauge = async () => (await metrics.breaker.get()).values[0]!.value;
    const handler = circuitBreaker({ failureThreshold: 2, halfOpenAfterMs: 5_000, registry })(
      async () => {
        throw new Error('payment gateway down');
      },
      info,
    );
    for (let i = 0; i < 2; i++)
      await expect(handler(delivery())).rejects.toThrow('payment gateway down');
    await expect(probe.check()).rejects.toThrow('payments: open');
    expect(await gauge()).toBe(2);
    jest.advanceTimersByTime(4_999);
    expect(registry.states()).toEqual({ payments: 'open' });
    // The handler gets no delivery: the breaker would let the next one through, so it is
    // half-open, not open for ever.
    jest.advanceTimersByTime(1);
    expect(registry.states()).toEqual({ payments: 'half-open' });
    await expect(probe.check()).rejects.toThrow('payments: half-open');
    expect(await gauge()).toBe(1);
    // The trial call fails: open again, for another halfOpenAfterMs.
    await expect(handler(delivery())).rejects.toThrow('payment gateway down');
    expect(registry.states()).toEqual({ payments: 'open' });
    expect(await gauge()).toBe(2);
  });

  it('reports half-open in metrics also when its timer fires before the clock reached halfOpenAfterMs', async () => {
    // A timer may fire up to a millisecond before Date.now() has moved on by its delay (the
    // event loop counts whole milliseconds of another clock), or the wall clock was stepped
    // back (NTP): the breaker is not half-open yet by cockatiel's clock (Date.now) at that call.
    jest.useFakeTimers({ now: 1_000_000 });
    const registry = new BreakerRegistry();
    const metrics = new MessagingMetrics(new Registry());
    metrics.watchBreakers(registry);
    const gauge = async () => (await metrics.breaker.get()).values[0]!.value;
    const handler = circuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 5_000, registry })(
      async () => {
        throw new Error('payment gateway down');
      },
      info,
    );
    await expect(handler(delivery())).rejects.toThrow('payment gateway down');
    expect(await gauge()).toBe(2);
    jest.setSystemTime(Date.now() - 20); // the timer fires 20 ms "early" by Date.now()
    jest.advanceTimersByTime(5_000);
    expect(registry.states()).toEqual({ payments: 'open' });
    jest.advanceTimersByTime(20);
    expect(registry.states()).toEqual({ payments: 'half-open' });
    // Not open for ever: no delivery comes to move the policy on.
    expect(await gauge()).toBe(1);
  });

  it('stays open for 10 s by default before trying the handler again', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const registry = new BreakerRegistry();
    let healthy = false;
    const handler = circuitBreaker({ failureThreshold: 2, registry })(async () => {
      if (!healthy) throw new Error('payment gateway down');
      return 'paid';
    }, info);
    for (let i = 0; i < 2; i++)
      await expect(handler(delivery())).rejects.toThrow('payment gateway down');
    healthy = true;
    jest.advanceTimersByTime(9_999);
    await expect(handler(delivery())).rejects.toBeInstanceOf(DeferredError);
    jest.advanceTimersByTime(2);
    await expect(handler(delivery())).resolves.toBe('paid');
    expect(registry.states()).toEqual({ payments: 'closed' });
  });

  it('refuses settings it cannot honour at once, naming them, instead of a breaker that never opens', async () => {
    // NaN (a Number(env) of nothing) never reached the threshold: the circuit never opened.
    expect(() => circuitBreaker({ failureThreshold: Number('') || Number.NaN })).toThrow(
      new RangeError(
        'circuitBreaker: failureThreshold must be a positive integer (consecutive failures), got NaN',
      ),
    );
    expect(() => circuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
    expect(() => circuitBreaker({ failureThreshold: 2.5 })).toThrow(RangeError);
    // NaN or a negative time half-opened at once: every delivery still reached the failing handler.
    expect(() => circuitBreaker({ halfOpenAfterMs: Number.NaN })).toThrow(
      new RangeError(
        'circuitBreaker: halfOpenAfterMs must be a non-negative number of milliseconds, got NaN',
      ),
    );
    expect(() => circuitBreaker({ halfOpenAfterMs: -1 })).toThrow(RangeError);
    expect(() => circuitBreaker({ halfOpenAfterMs: Infinity })).toThrow(RangeError);
    expect(() => circuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 0 })).not.toThrow();
  });

  it('does not count permanent errors', async () => {
    const registry = new BreakerRegistry();
    const handler = circuitBreaker({ failureThreshold: 2, registry })(async () => {
      throw new PermanentError('invalid');
    }, info);
    for (let i = 0; i < 5; i++)
      await expect(handler(delivery())).rejects.toBeInstanceOf(PermanentError);
    expect(registry.states()).toEqual({ payments: 'closed' });
  });
});
