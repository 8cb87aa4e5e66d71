import { type EventForwarder } from '@causeway/cqrs-core';
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The outbox in /metrics, read from the forwarder when scraped: events published (`eager`:
 * right after their append; `rounds`: by the forwarder's rounds, republished ones included),
 * the rounds' reads of the event store (with the forward ledger they should be rare: each is a
 * scan of the commits on FerretDB), whether this instance holds the forwarding lease, and
 * whether its rounds are stopped at an event they can never publish (EventForwarder.blocked:
 * nothing after it reaches the bus until it is fixed; without this gauge only a warn line said so),
 * and for how long its rounds have failed in a row (EventForwarder.failing, whatever the error).
 */
export function registerForwarderMetrics(
  registry: Registry,
  forwarder: EventForwarder,
  forwarding: () => boolean,
): void {
  let seen = { eager: 0, rounds: 0, reads: 0 };
  const now = () => ({
    eager: forwarder.eagerCount,
    rounds: forwarder.count - forwarder.eagerCount,
    reads: forwarder.reads,
  });
  new Counter({
    name: 'causeway_forwarder_events_published_total',
    help: 'Events the outbox forwarder published, by mode (eager, rounds)',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      const current = now();
      this.inc({ mode: 'eager' }, current.eager - seen.eager);
      this.inc({ mode: 'rounds' }, current.rounds - seen.rounds);
      seen = { ...seen, eager: current.eager, rounds: current.rounds };
    },
  });
  new Counter({
    name: 'causeway_forwarder_store_reads_total',
    help: "Reads of the event store by the outbox forwarder's rounds",
    registers: [registry],
    collect() {
      const { reads } = now();
      this.inc(reads - seen.reads);
      seen = { ...seen, reads };
    },
  });
  new Gauge({
    name: 'causeway_forwarder_forwarding',
    help: 'Whether this instance holds the forwarding lease and runs the rounds (1) or not (0)',
    registers: [registry],
    collect() {
      this.set(forwarding() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'causeway_forwarder_failing_seconds',
    help:
      "How long the outbox forwarder's rounds have failed in a row, in seconds (0 while they " +
      'succeed); the /health probe outbox fails past a minute and names the error',
    registers: [registry],
    collect() {
      const failing = forwarding() ? forwarder.failing : undefined;
      this.set(failing ? (Date.now() - failing.since.getTime()) / 1000 : 0);
    },
  });
  new Gauge({
    name: 'causeway_forwarder_blocked',
    help:
      'Whether the outbox forwarder is stopped at an event it cannot publish (1) or not (0); ' +
      'the /health probe outbox names the event',
    registers: [registry],
    collect() {
      this.set(forwarding() && forwarder.blocked ? 1 : 0);
    },
  });
}
