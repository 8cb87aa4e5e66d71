import { type Counter, type Registry } from 'prom-client';
import { registeredCounter } from '../metrics/registered.metric';

/**
 * Optional Prometheus counters of a subscriber: handled and failed deliveries per topic and
 * group, and pending entries lost to trimming.
 */
export interface SubscriberMetrics {
  settled(topic: string, group: string, failed: boolean): void;
  /** `count` entries delivered to `group` and never acknowledged were trimmed before they ran again. */
  trimmedPending(topic: string, group: string, count: number): void;
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
  // A counter, not a gauge like causeway_consumer_trimmed_unread: Redis keeps no trace of
  // these entries once the claim that met them dropped them from the pending list.
  const trimmedPending = counter(
    registry,
    'causeway_consumer_trimmed_pending_total',
    'Entries delivered to a consumer group and never acknowledged that trimming removed before they ran again (lost)',
  );
  return {
    settled: (topic, group, didFail) => (didFail ? failed : consumed).inc({ topic, group }),
    trimmedPending: (topic, group, count) => trimmedPending.inc({ topic, group }, count),
  };
}

function counter(registry: Registry, name: string, help: string): Counter<'topic' | 'group'> {
  return registeredCounter(registry, { name, help, labelNames: ['topic', 'group'] });
}
