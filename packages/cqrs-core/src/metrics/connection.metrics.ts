import { Counter, Gauge, type Registry } from 'prom-client';

/** The series of one connection in a registry's metrics (ConnectionMetrics.connection). */
export interface ConnectionSeries {
  /**
   * Its name in the metrics and, as the connection's own `name`, in /health: the name asked for,
   * or for a second connection of that name in the registry `<name>#2` (#3 …).
   */
  readonly name: string;
  up(isUp: boolean): void;
  reconnect(): void;
  /**
   * Removes its series and gives its name back, for a connection made later: call it once the
   * connection is closed. Without it a process that opens and closes connections (one per job,
   * per tenant) grew the registry by a name (`redis#2`, `#3` …) and series per connection, and
   * went on reporting each closed one as down to the alert on `causeway_connection_up`. What it
   * is told after (the driver's events that follow a close, such as ioredis' 'end') is dropped,
   * never written to the series of a later connection of the same name. Idempotent.
   */
  release(): void;
}

/** Gauges and counters that every client manager reports, labelled by server name. */
export interface ConnectionMetrics {
  /**
   * The series of a new connection called `name`. Two Redis connections left with the default
   * name shared one `causeway_connection_up` series, which took whichever changed last (1 while
   * one of them was down): the second one of a name is `<name>#2` (#3 …) until the first is
   * released. Its series are written only through what this returns, never by name, so a
   * released connection cannot reach a later one that took its name. Without a registry, the
   * name as given and no series.
   */
  connection(name: string): ConnectionSeries;
}

const byRegistry = new WeakMap<Registry, ConnectionMetrics>();

/** One set of connection metrics per registry (several connections share it). */
export function connectionMetrics(registry?: Registry): ConnectionMetrics {
  if (!registry) {
    const nothing = () => undefined;
    return { connection: (name) => ({ name, up: nothing, reconnect: nothing, release: nothing }) };
  }
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
    connection: (name) => {
      let server = name;
      for (let n = 2; claimed.has(server); n++) server = `${name}#${n}`;
      claimed.add(server);
      let released = false;
      return {
        name: server,
        up: (isUp) => {
          if (!released) upGauge.set({ server }, isUp ? 1 : 0);
        },
        reconnect: () => {
          if (!released) reconnects.inc({ server });
        },
        release: () => {
          if (released) return;
          released = true;
          claimed.delete(server);
          upGauge.remove({ server });
          reconnects.remove({ server });
        },
      };
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
