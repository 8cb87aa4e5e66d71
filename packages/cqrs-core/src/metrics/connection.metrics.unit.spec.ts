import { Registry } from 'prom-client';
import { connectionMetrics } from './connection.metrics';

describe('connectionMetrics', () => {
  it("releases a closed connection's series and name; what it reports after that is dropped", async () => {
    const registry = new Registry();
    const metrics = connectionMetrics(registry);
    const first = metrics.connection('redis');
    const second = metrics.connection('redis');
    expect([first.name, second.name]).toEqual(['redis', 'redis#2']);
    second.up(true);
    second.reconnect();
    first.up(true);
    second.release();
    second.release();
    // The driver's events after the close (ioredis' 'end'): no series comes back.
    second.up(false);
    second.reconnect();
    const text = await registry.metrics();
    expect(text).not.toContain('redis#2');
    expect(text).toContain('causeway_connection_up{server="redis"} 1');
    // Its name is free again; the series of the one that has it now start afresh.
    const third = metrics.connection('redis');
    expect(third.name).toBe('redis#2');
    third.up(true);
    second.up(false);
    expect(await registry.metrics()).toContain('causeway_connection_up{server="redis#2"} 1');
    expect(await registry.metrics()).not.toContain(
      'causeway_connection_reconnects_total{server="redis#2"}',
    );
  });

  it("writes a connection's series only through that connection: no call takes a server's name", async () => {
    // claim/up/reconnect/release(server) wrote by name: a caller still holding a released name
    // (a late 'end' of a closed client) set the series of the later connection that took it.
    const registry = new Registry();
    for (const metrics of [connectionMetrics(registry), connectionMetrics()])
      expect(Object.keys(metrics)).toEqual(['connection']);
    const metrics = connectionMetrics(registry);
    const closed = metrics.connection('kafka');
    closed.up(true);
    closed.release();
    const later = metrics.connection('kafka');
    expect(later.name).toBe(closed.name);
    later.up(true);
    closed.up(false);
    closed.reconnect();
    closed.release();
    const text = await registry.metrics();
    expect(text).toContain('causeway_connection_up{server="kafka"} 1');
    expect(text).not.toContain('causeway_connection_reconnects_total{server="kafka"}');
  });

  it('hands out names and no series without a registry', () => {
    const metrics = connectionMetrics();
    const series = metrics.connection('kafka');
    expect(series.name).toBe('kafka');
    series.up(true);
    series.release();
    expect(metrics.connection('kafka').name).toBe('kafka');
  });
});
