import { Counter, Gauge, type Registry } from 'prom-client';

/** Gauges and counters that every client manager reports, labelled by server name. */
export interface ConnectionMetrics {
  up(server: string, isUp: boolean): void;
  reconnect(server: string): void;
}

const byRegistry = new WeakMap<Registry, ConnectionMetrics>();

/** One set of connection metrics per registry (several connections share it). */
export function connectionMetrics(registry?: Registry): ConnectionMetrics {
  if (!registry) return { up: () => undefined, reconnect: () => undefined };
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
  const metrics: ConnectionMetrics = {
    up: (server, isUp) => upGauge.set({ server }, isUp ? 1 : 0),
    reconnect: (server) => reconnects.inc({ server }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
