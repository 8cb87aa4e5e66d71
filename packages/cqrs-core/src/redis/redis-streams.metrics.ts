import { type Counter, type Registry } from 'prom-client';
import { registeredCounter } from '../metrics/registered.metric';

/** Optional Prometheus counters of a subscriber: handled and failed deliveries per topic and group. */
export interface SubscriberMetrics {
  settled(topic: string, group: string, failed: boolean): void;
}

export function subscriberMetrics(registry: Registry): SubscriberMetrics {
  const consumed = counter(
    registry,
    'causeway_transport_consumed_total',
    'Deliveries handled successfully',
  );
  const failed = counter(
    registry,
    'causeway_transport_failed_total',
    'Deliveries whose handler failed (redelivered later)',
  );
  return {
    settled: (topic, group, didFail) => (didFail ? failed : consumed).inc({ topic, group }),
  };
}

function counter(registry: Registry, name: string, help: string): Counter<'topic' | 'group'> {
  return registeredCounter(registry, { name, help, labelNames: ['topic', 'group'] });
}
