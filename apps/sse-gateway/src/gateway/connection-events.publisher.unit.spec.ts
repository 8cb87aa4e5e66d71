import 'reflect-metadata';
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  CONNECTION_CLOSED_EVENT,
  CONNECTION_ESTABLISHED_EVENT,
  contractsSerializer,
} from '@causeway/contracts';
import { type Envelope, type EventBus, InMemoryBroker, type Publisher } from '@causeway/cqrs-core';
import { CqrsCoreModule } from '@causeway/cqrs-core/nest';
import {
  InMemoryGroupMembers,
  InMemoryNotificationLog,
  InMemoryTrainerPositions,
  TokenService,
} from '@causeway/platform';
import { InMemoryPresenceRegistry } from '../presence/in-memory.presence-registry';
import { SseHub } from '../sse/sse.hub';
import { TestSink } from '../testing/sse.test-sink';
import { ConnectionEventsPublisher } from './connection-events.publisher';
import { GatewayModule } from './gateway.module';
import { DEFAULT_GATEWAY_SETTINGS } from './gateway.settings';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A healthy bus: each publish is recorded a moment later (a round trip), as one call. */
function healthyBus(latencyMs = 1) {
  const calls: { envelopes: Envelope[]; done: boolean }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const bus = {
    publish: async (envelopes: Envelope[]) => {
      const call = { envelopes: [...envelopes], done: false };
      calls.push(call);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await sleep(latencyMs);
      inFlight -= 1;
      call.done = true;
    },
  } as unknown as EventBus;
  return {
    bus,
    calls,
    get maxInFlight() {
      return maxInFlight;
    },
    published: (type: string) =>
      calls.flatMap((call) => call.envelopes).filter((envelope) => envelope.type === type),
  };
}

function hubWith(events: ConnectionEventsPublisher): SseHub {
  return new SseHub({
    serverId: 'gw-1',
    log: new InMemoryNotificationLog(),
    positions: new InMemoryTrainerPositions(),
    groups: new InMemoryGroupMembers(),
    settings: DEFAULT_GATEWAY_SETTINGS,
    listeners: [events],
  });
}

/**
 * A started hub whose connection events go to a bus that stalls (a broker outage) until
 * `release`, then answers: 10 events queue, one batch of 5 is in flight, the rest are dropped.
 */
async function overStalledBus() {
  let release: () => void = () => undefined;
  const stalled = new Promise<void>((resolve) => (release = resolve));
  const published: Envelope[] = [];
  const bus = {
    publish: async (envelopes: Envelope[]) => {
      await stalled;
      published.push(...envelopes);
    },
  } as unknown as EventBus;
  const events = new ConnectionEventsPublisher(bus, 'gw-1', () => undefined, {
    maxQueued: 10,
    batchSize: 5,
    maxBatchesInFlight: 1,
  });
  const hub = hubWith(events);
  await hub.start();
  return { release, published, events, hub };
}

const connectionIdOf = (envelope: Envelope) =>
  (envelope.data as { connectionId: string }).connectionId;

/** The gateway app over an in-memory bus, publishing its connection events through `publisher`. */
async function gatewayApp(
  publisher: Publisher,
  broker: InMemoryBroker,
  serializer: ReturnType<typeof contractsSerializer>,
): Promise<INestApplication> {
  @Module({
    imports: [
      CqrsCoreModule.forRoot({
        service: 'sse-gateway',
        instanceId: 'gw-1',
        publisher,
        subscriber: broker.subscriber(),
        serializer,
      }),
      GatewayModule.forRoot({
        serverId: 'gw-1',
        tokens: new TokenService({ secret: 'a-test-secret-of-at-least-32-characters' }),
        notifications: new InMemoryNotificationLog(),
        positions: new InMemoryTrainerPositions(),
        groups: new InMemoryGroupMembers(),
        presence: new InMemoryPresenceRegistry(),
      }),
    ],
  })
  class TestAppModule {}
  const app = await NestFactory.create(TestAppModule, { logger: false });
  await app.init();
  return app;
}

describe('ConnectionEventsPublisher', () => {
  it('publishes a ConnectionClosed for every stream a shutdown ends, with a healthy bus', async () => {
    const bus = healthyBus();
    const errors: string[] = [];
    const events = new ConnectionEventsPublisher(bus.bus, 'gw-1', (message) =>
      errors.push(message),
    );
    const hub = hubWith(events);
    await hub.start();
    // Streams opened over time (each one's event is published before the next arrives) …
    for (let i = 0; i < 3_000; i++) {
      await hub.open({ userId: `u${i}`, trainerIds: [] }, new TestSink());
      if (i % 500 === 0) await sleep(5);
    }
    await events.flush(5_000);
    // … all ended in one synchronous loop.
    await hub.stop();
    expect(await events.flush(5_000)).toBe(true);
    expect({
      established: bus.published(CONNECTION_ESTABLISHED_EVENT).length,
      closed: new Set(bus.published(CONNECTION_CLOSED_EVENT).map(connectionIdOf)).size,
      dropped: events.dropped,
      errors,
    }).toEqual({ established: 3_000, closed: 3_000, dropped: 0, errors: [] });
    // In batches, a few at a time: not a publish per event.
    expect(bus.calls.length).toBeLessThan(3_000);
    expect(bus.maxInFlight).toBe(4);
  });

  it("sends a stream's Closed only once the publish carrying its Established ended", async () => {
    const bus = healthyBus(5);
    /** Streams whose Established is in a publish not ended yet. */
    const inFlight = new Set<string>();
    const early: string[] = [];
    const events = new ConnectionEventsPublisher(
      {
        publish: async (envelopes: Envelope[]) => {
          const mine = envelopes.filter((e) => e.type === CONNECTION_ESTABLISHED_EVENT);
          for (const envelope of envelopes)
            if (envelope.type === CONNECTION_CLOSED_EVENT && inFlight.has(connectionIdOf(envelope)))
              early.push(connectionIdOf(envelope));
          for (const envelope of mine) inFlight.add(connectionIdOf(envelope));
          await bus.bus.publish(envelopes);
          for (const envelope of mine) inFlight.delete(connectionIdOf(envelope));
        },
      } as unknown as EventBus,
      'gw-1',
      () => undefined,
      // Odd: a stream's two events fall in two batches now and then.
      { batchSize: 7 },
    );
    const hub = hubWith(events);
    await hub.start();
    // Streams opened and ended at once (an operator's disconnect): their events queue in pairs.
    for (let i = 0; i < 300; i++) {
      void hub.open({ userId: `u${i}`, trainerIds: [] }, new TestSink());
      hub.disconnect(`u${i}`, 'test');
    }
    expect(await events.flush(5_000)).toBe(true);
    expect({
      established: bus.published(CONNECTION_ESTABLISHED_EVENT).length,
      closed: bus.published(CONNECTION_CLOSED_EVENT).length,
      early,
    }).toEqual({ established: 300, closed: 300, early: [] });
    await hub.stop();
  });

  it('drops (counts, logs once) only beyond its queue while the bus does not answer', async () => {
    const errors: string[] = [];
    const never = { publish: () => new Promise<void>(() => undefined) } as unknown as EventBus;
    const events = new ConnectionEventsPublisher(never, 'gw-1', (message) => errors.push(message), {
      maxQueued: 100,
      batchSize: 10,
      maxBatchesInFlight: 2,
    });
    const hub = hubWith(events);
    await hub.start();
    for (let i = 0; i < 250; i++)
      await hub.open({ userId: `u${i}`, trainerIds: [] }, new TestSink());
    await hub.stop();
    // At most 2 batches of 10 in flight and 100 queued: the rest is dropped.
    expect(events.pending).toBeGreaterThanOrEqual(100);
    expect(events.pending).toBeLessThanOrEqual(120);
    expect({ dropped: events.dropped, errors: errors.length }).toEqual({
      dropped: 500 - events.pending,
      errors: 1,
    });
    expect(errors[0]).toMatch(/100 are waiting for the bus/);
    expect(await events.flush(20)).toBe(false);
  });

  it('publishes no Closed for a stream whose Established it dropped', async () => {
    const { release, published, events, hub } = await overStalledBus();
    let droppedOpen = 0;
    try {
      // Some in flight, 10 queued, the rest dropped while the bus stalls …
      for (let i = 0; i < 20; i++)
        await hub.open({ userId: `u${i}`, trainerIds: [] }, new TestSink());
      droppedOpen = events.dropped;
      expect(droppedOpen).toBeGreaterThan(0);
      // … which comes back before the streams end, one by one.
      release();
      expect(await events.flush(5_000)).toBe(true);
      for (let i = 0; i < 20; i++) {
        hub.disconnect(`u${i}`, 'test');
        expect(await events.flush(5_000)).toBe(true);
      }
    } finally {
      release();
      await hub.stop();
    }
    expect(await events.flush(5_000)).toBe(true);
    const established = new Set(
      published.filter((e) => e.type === CONNECTION_ESTABLISHED_EVENT).map(connectionIdOf),
    );
    const closed = published.filter((e) => e.type === CONNECTION_CLOSED_EVENT).map(connectionIdOf);
    expect({
      established: established.size,
      closed: closed.length,
      neverOpened: closed.filter((id) => !established.has(id)),
    }).toEqual({ established: 20 - droppedOpen, closed: 20 - droppedOpen, neverOpened: [] });
  });

  it('publishes no instance-expired Closed for a stream of its own whose Established it dropped', async () => {
    const { release, published, events, hub } = await overStalledBus();
    try {
      for (let i = 0; i < 20; i++)
        await hub.open({ userId: `u${i}`, trainerIds: [] }, new TestSink());
      expect(events.dropped).toBeGreaterThan(0);
      release();
      expect(await events.flush(5_000)).toBe(true);
      // This instance paused past the presence TTL: a sweep reports its streams closed.
      events.expired({
        serverId: 'gw-1',
        // The latest first: those whose Established was dropped, then some that went out.
        connections: [...hub.connections()]
          .map((c) => ({ connectionId: c.id, userId: c.userId, connectedAt: Date.now() }))
          .reverse()
          .slice(0, 10),
      });
      expect(await events.flush(5_000)).toBe(true);
      const established = new Set(
        published.filter((e) => e.type === CONNECTION_ESTABLISHED_EVENT).map(connectionIdOf),
      );
      const closed = published
        .filter((e) => e.type === CONNECTION_CLOSED_EVENT)
        .map(connectionIdOf);
      expect(closed.length).toBeGreaterThan(0);
      expect(closed.filter((id) => !established.has(id))).toEqual([]);
    } finally {
      release();
      await hub.stop();
    }
  });
});

describe('GatewayModule shutdown', () => {
  it('publishes the ConnectionClosed of a stream its client ends, once, while the gateway runs', async () => {
    // GatewayModule reports a close through the presence tracker (not for a stream a sweep
    // reported closed already): an ordinary close still gets its event.
    const serializer = contractsSerializer();
    const broker = new InMemoryBroker({ serializer });
    const published: Envelope[] = [];
    const publisher: Publisher = {
      publish: async (_topic, messages) => {
        published.push(...messages);
      },
      close: async () => undefined,
    };
    const app = await gatewayApp(publisher, broker, serializer);
    try {
      const hub = app.get(SseHub);
      while (!hub.ready) await sleep(5);
      const sink = new TestSink();
      const connection = await hub.open({ userId: 'ash', trainerIds: [] }, sink);
      sink.hangUp();
      const closedOf = () => published.filter((e) => e.type === CONNECTION_CLOSED_EVENT);
      while (closedOf().length === 0) await sleep(5);
      expect(closedOf().map((e) => e.data)).toEqual([
        expect.objectContaining({ connectionId: connection.id, reason: 'client' }),
      ]);
    } finally {
      await app.close();
    }
    expect(published.filter((e) => e.type === CONNECTION_CLOSED_EVENT)).toHaveLength(1);
  });

  it('publishes the ConnectionClosed of every stream it ends before the bus closes', async () => {
    const serializer = contractsSerializer();
    const broker = new InMemoryBroker({ serializer });
    const published: Envelope[] = [];
    // A bus a round trip away that refuses publishes once closed, as RedisStreamsPublisher does.
    let closed = false;
    const publisher: Publisher = {
      publish: async (_topic, messages) => {
        if (closed) throw new Error('publisher closed');
        await sleep(20);
        published.push(...messages);
      },
      close: async () => {
        closed = true;
      },
    };
    const app = await gatewayApp(publisher, broker, serializer);
    const hub = app.get(SseHub);
    while (!hub.ready) await sleep(5);
    for (let i = 0; i < 3_000; i++)
      await hub.open({ userId: `u${i}`, trainerIds: [] }, new TestSink());
    while (published.length < 3_000) await sleep(5);
    await app.close();
    expect(
      new Set(published.filter((e) => e.type === CONNECTION_CLOSED_EVENT).map(connectionIdOf)).size,
    ).toBe(3_000);
  });
});
