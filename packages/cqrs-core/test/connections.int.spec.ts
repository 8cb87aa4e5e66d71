import { once } from 'node:events';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { testNamespace } from '@causeway/testkit';
import { type ManagedConnection } from '../src';
import { kafkaConnection } from '../src/kafka';
import { mongoConnection } from '../src/mongodb';
import { redisConnection } from '../src/redis';

// Client managers against the real servers: open verifies with a real request, the probe
// answers, metrics report the connection, close is idempotent, an unreachable server is named.
describe('client managers', () => {
  const ns = testNamespace('conn');

  const cases: [
    string,
    (registry: Registry) => ManagedConnection,
    (registry?: Registry) => ManagedConnection,
  ][] = [
    [
      'redis',
      (registry) => redisConnection({ url: ns.redisUrl, registry }),
      (registry) =>
        redisConnection({
          url: 'redis://127.0.0.1:1',
          registry,
          source: 'THE_SETTING',
          connectTimeoutMs: 500,
        }),
    ],
    [
      'kafka',
      (registry) => kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('c'), registry }),
      (registry) =>
        kafkaConnection({
          brokers: ['127.0.0.1:1'],
          registry,
          source: 'THE_SETTING',
          clientId: 'x',
          connectionTimeoutMs: 300,
          config: { retry: { retries: 0 } },
        }),
    ],
    [
      'mongodb',
      (registry) => mongoConnection({ uri: ns.mongoUri(), registry }),
      (registry) =>
        mongoConnection({
          uri: 'mongodb://127.0.0.1:1/x',
          registry,
          source: 'THE_SETTING',
          serverSelectionTimeoutMs: 500,
        }),
    ],
  ];

  it.each(cases)(
    '%s: opens, answers the probe, reports metrics and closes twice',
    async (name, create) => {
      const registry = new Registry();
      const connection = create(registry);
      await expect(connection.check()).rejects.toThrow();
      await connection.open();
      await expect(connection.check()).resolves.toBeUndefined();
      const metrics = await registry.getSingleMetricAsString('causeway_connection_up');
      expect(metrics).toContain(`causeway_connection_up{server="${name}"} 1`);
      await connection.close();
      await connection.close();
    },
  );

  it.each(cases)(
    '%s: reports nothing until open() is called, then 0 when the server cannot be reached',
    async (name, create, unreachable) => {
      // A connection built but not yet opened (or never opened) set off the alert on
      // `causeway_connection_up == 0` (Kafka did; a health check before open() did too).
      const registry = new Registry();
      const connection = create(registry);
      try {
        await expect(connection.check()).rejects.toThrow('not connected');
        expect(await registry.metrics()).not.toContain('server=');
        await connection.open();
        expect(await registry.metrics()).toContain(`causeway_connection_up{server="${name}"} 1`);
      } finally {
        await connection.close();
      }
      const down = unreachable(registry);
      try {
        await expect(down.check()).rejects.toThrow('not connected');
        expect(await registry.metrics()).not.toContain('server=');
        await expect(down.open()).rejects.toThrow(/^cannot connect to /);
        expect(await registry.metrics()).toContain(`causeway_connection_up{server="${name}"} 0`);
      } finally {
        await down.close();
      }
      expect(await registry.metrics()).not.toContain('server=');
    },
  );

  it.each(cases)(
    '%s: close removes its series and gives its name back to a connection opened later',
    async (name, create) => {
      // A process that opens and closes connections (one per job, per tenant) grew the registry
      // by a name (`redis#2`, `#3` …) and a series per connection, and went on reporting every
      // closed one as down (`causeway_connection_up … 0`) to the alert set on it.
      const registry = new Registry();
      const kept = create(registry);
      await kept.open();
      try {
        for (let round = 1; round <= 3; round++) {
          const passing = create(registry);
          expect({ round, name: passing.name }).toEqual({ round, name: `${name}#2` });
          await passing.open();
          expect(await registry.metrics()).toContain(
            `causeway_connection_up{server="${name}#2"} 1`,
          );
          await passing.close();
          await passing.close();
          expect(await registry.metrics()).not.toContain(`server="${name}#2"`);
        }
        expect(await registry.metrics()).toContain(`causeway_connection_up{server="${name}"} 1`);
      } finally {
        await kept.close();
      }
      expect(await registry.metrics()).not.toContain('server=');
      const next = create(registry);
      expect(next.name).toBe(name);
      await next.close();
    },
  );

  it.each(cases)(
    '%s: open rejects when the server cannot be reached, naming it and the setting it came from',
    async (_name, _create, unreachable) => {
      const connection = unreachable();
      const error = (await connection.open().catch((failure: unknown) => failure)) as Error;
      await connection.close();
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toMatch(
        /^cannot connect to \w+ at \S*127\.0\.0\.1:1\S* \(THE_SETTING\): ./,
      );
      expect(error.cause).toBeDefined();
    },
  );

  it('mongodb: an unreachable server is named with the option, never the password', async () => {
    const connection = mongoConnection({
      uri: 'mongodb://app:s3cret-pw@127.0.0.1:1/x',
      serverSelectionTimeoutMs: 500,
    });
    const error = (await connection.open().catch((failure: unknown) => failure)) as Error;
    await connection.close();
    expect(error.message).toMatch(
      /^cannot connect to MongoDB at mongodb:\/\/127\.0\.0\.1:1\/x \(mongoConnection options\.uri\): /,
    );
    expect(error.message).not.toContain('s3cret-pw');
    expect((error.cause as Error).name).toBe('MongooseServerSelectionError');
  });

  it('mongodb: a URI the driver cannot parse is named without the password it quotes', async () => {
    // A review (session 35): the driver's parse error quoted the whole URI, password included.
    const connection = mongoConnection({ uri: 'mongodb://app:Pw%40s3cret@@x@127.0.0.1:1/x' });
    const error = (await connection.open().catch((failure: unknown) => failure)) as Error;
    await connection.close();
    expect(error.message).toMatch(
      /^cannot connect to MongoDB at mongodb:\/\/127\.0\.0\.1:1\/x \(mongoConnection options\.uri\): /,
    );
    expect(error.message).not.toContain('s3cret');
  });

  it('mongodb: a URI without a database works when options.dbName names it', async () => {
    const uri = ns.mongoUri().replace(`/${ns.database}`, '');
    expect(uri).not.toContain(ns.database);
    const connection = mongoConnection({ uri, options: { dbName: ns.database } });
    try {
      await connection.open();
      expect(connection.client.name).toBe(ns.database);
    } finally {
      await connection.client.dropDatabase().catch(() => undefined);
      await connection.close();
    }
  });

  it('reports two Redis connections of one name apart, in /metrics as in /health: the second as `redis#2`', async () => {
    // A cache and a bus on two Redis servers, both left with the default name: one series
    // `causeway_connection_up{server="redis"}` took whichever changed last, 1 while one was down.
    const registry = new Registry();
    const cache = redisConnection({ url: ns.redisUrl, registry });
    const bus = redisConnection({ url: ns.redisUrl, registry });
    await cache.open();
    await bus.open();
    try {
      // Down, not closed (a closed connection has no series): its client disconnected.
      const ended = once(bus.client, 'end');
      bus.client.disconnect();
      await ended;
      await cache.check();
      const metrics = await registry.getSingleMetricAsString('causeway_connection_up');
      expect(metrics).toContain('causeway_connection_up{server="redis"} 1');
      expect(metrics).toContain('causeway_connection_up{server="redis#2"} 0');
      expect([cache.name, bus.name]).toEqual(['redis', 'redis#2']);
    } finally {
      await cache.close();
      await bus.close();
    }
  });

  it('redis: the late events of a closed connection never reach a later one of its name', async () => {
    const registry = new Registry();
    const closed = redisConnection({ url: ns.redisUrl, registry });
    await closed.open();
    await closed.close();
    const later = redisConnection({ url: ns.redisUrl, registry });
    expect(later.name).toBe(closed.name);
    await later.open();
    try {
      // What the closed client's driver may still report: a drop, an end, a reconnect attempt.
      closed.client.emit('close');
      closed.client.emit('end');
      closed.client.options.retryStrategy?.(1);
      const text = await registry.metrics();
      expect(text).toContain('causeway_connection_up{server="redis"} 1');
      expect(text).not.toContain('causeway_connection_reconnects_total{server="redis"}');
    } finally {
      await later.close();
    }
  });

  it('redis: its reconnects leave with it, and the events that follow its close report nothing', async () => {
    const registry = new Registry();
    const connection = redisConnection({ url: ns.redisUrl, registry });
    await connection.open();
    const killer = new Redis(ns.redisUrl);
    try {
      // A dropped connection, reconnected: counted in its own series.
      const id = await connection.client.client('ID');
      const back = once(connection.client, 'ready');
      await killer.client('KILL', 'ID', String(id));
      await back;
      expect(await registry.metrics()).toContain(
        'causeway_connection_reconnects_total{server="redis"} 1',
      );
    } finally {
      killer.disconnect();
    }
    const ended = once(connection.client, 'end');
    await connection.close();
    // The client's 'close' and 'end' come after close() returned: they set the gauge to 0 again,
    // under a name another connection may have taken meanwhile.
    await ended;
    expect(await registry.metrics()).not.toContain('server=');
  });
});
