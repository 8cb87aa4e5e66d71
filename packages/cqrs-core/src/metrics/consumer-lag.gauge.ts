import { Gauge, type Registry } from 'prom-client';

/** One row of `causeway_consumer_lag`. */
export interface LagRow {
  topic: string;
  group: string;
  lag: number;
}

/**
 * A transport's part of `causeway_consumer_lag`: its groups' rows at scrape time. It answers,
 * never rejects, and within the scrape's patience (a source whose server is away or slow
 * answers its last rows): the gauge asks every source at once.
 */
export type LagSource = () => Promise<readonly LagRow[]>;

const sourcesOf = new WeakMap<Registry, LagSource[]>();

/**
 * Adds `source` to `registry`'s `causeway_consumer_lag`, made on the first call: a registry
 * holds one metric per name, so an app with Redis Streams and Kafka consumers has one gauge
 * whose series are every source's rows (rows of one topic and group summed).
 */
export function addConsumerLagSource(registry: Registry, source: LagSource): void {
  const known = sourcesOf.get(registry);
  if (known) {
    known.push(source);
    return;
  }
  const sources = [source];
  sourcesOf.set(registry, sources);
  new Gauge({
    name: 'causeway_consumer_lag',
    help: 'Messages a consumer group has still to take: not yet delivered (Redis Streams) or not yet committed (Kafka)',
    labelNames: ['topic', 'group'],
    registers: [registry],
    async collect() {
      const rows = await Promise.all(sources.map((ask) => ask()));
      this.reset();
      // Rows of several sources for one topic and group (two key prefixes, two transports)
      // add up: one must not overwrite the other's figure.
      for (const row of rows.flat()) this.inc({ topic: row.topic, group: row.group }, row.lag);
    },
  });
}
