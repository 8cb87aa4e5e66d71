import { Counter, Gauge, type Registry } from 'prom-client';

/** Gauges and counters that every client manager reports, labelled by server name. */
export interface ConnectionMetrics {
  /**
   * The name a connection called `name` goes by in this registry's metrics (and, as its own
   * `name`, in /health): `name`, or for a second connection of that name `<name>#2` (#3 …). Two
   * Redis connections left with the default name shared one `causeway_connection_up` series,
   * which took whichever changed last: 1 while one of them was down. Without a registry, `name`.
   */
  claim(name: string): string;
  up(server: string, isUp: boolean): void;
  reconnect(server: string): void;
}

const byRegistry = new WeakMap<Registry, ConnectionMetrics>();

/** One set of connection metrics per registry (several connections share it). */
export function connectionMetrics(registry?: Registry): ConnectionMetrics {
  if (!registry) return { claim: (name) => name, up: () => undefined, reconnect: () => undefined };
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const upGauge = new Gauge({
    name: 'causeway_connection_up',
    help: '1 while the connection to the server is established, else 0',
    labelNames: ['server'],
    registers: [registry],
  });
  const reconnects = new Counter({
    name: 'causeway_connection_reconnects_total',
    help: 'Reconnection attempts to the server',
    labelNames: ['server'],
    registers: [registry],
  });
  const claimed = new Set<string>();
  const metrics: ConnectionMetrics = {
    claim: (name) => {
      let unique = name;
      for (let n = 2; claimed.has(unique); n++) unique = `${name}#${n}`;
      claimed.add(unique);
      return unique;
    },
    up: (server, isUp) => upGauge.set({ server }, isUp ? 1 : 0),
    reconnect: (server) => reconnects.inc({ server }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
