import { Counter, Gauge, type Registry } from 'prom-client';

/** The series of one connection in a registry's metrics (ConnectionMetrics.connection). */
export interface ConnectionSeries {
  /** Its name in the metrics and, as the connection's own `name`, in /health (see claim). */
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
   * The name a connection called `name` goes by in this registry's metrics (and, as its own
   * `name`, in /health): `name`, or for a second connection of that name `<name>#2` (#3 …). Two
   * Redis connections left with the default name shared one `causeway_connection_up` series,
   * which took whichever changed last: 1 while one of them was down. Without a registry, `name`.
   * A name claimed stays taken until `release`: prefer `connection`, which releases its own.
   */
  claim(name: string): string;
  up(server: string, isUp: boolean): void;
  reconnect(server: string): void;
  /** Removes the series of `server` and gives the name back to `claim`. Idempotent. */
  release(server: string): void;
  /** The series of a new connection called `name`, under the name `claim` gives it. */
  connection(name: string): ConnectionSeries;
}

const byRegistry = new WeakMap<Registry, ConnectionMetrics>();

/** One set of connection metrics per registry (several connections share it). */
export function connectionMetrics(registry?: Registry): ConnectionMetrics {
  if (!registry) {
    const nothing = () => undefined;
    return {
      claim: (name) => name,
      up: nothing,
      reconnect: nothing,
      release: nothing,
      connection: (name) => ({ name, up: nothing, reconnect: nothing, release: nothing }),
    };
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
    claim: (name) => {
      let unique = name;
      for (let n = 2; claimed.has(unique); n++) unique = `${name}#${n}`;
      claimed.add(unique);
      return unique;
    },
    up: (server, isUp) => upGauge.set({ server }, isUp ? 1 : 0),
    reconnect: (server) => reconnects.inc({ server }),
    release: (server) => {
      claimed.delete(server);
      upGauge.remove({ server });
      reconnects.remove({ server });
    },
    connection: (name) => {
      const server = metrics.claim(name);
      let released = false;
      return {
        name: server,
        up: (isUp) => {
          if (!released) metrics.up(server, isUp);
        },
        reconnect: () => {
          if (!released) metrics.reconnect(server);
        },
        release: () => {
          if (released) return;
          released = true;
          metrics.release(server);
        },
      };
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
