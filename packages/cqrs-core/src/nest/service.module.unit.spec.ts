import 'reflect-metadata';
import {
  type DynamicModule,
  Inject,
  type INestApplication,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { z } from 'zod';
import { type ManagedConnection } from '../connections/managed-connection.port';
import { type HealthProbe } from '../health/health-probe.port';
import { type HealthSnapshot } from '../health/health.monitor';
import { SerializerRegistry } from '../messages/serializer.registry';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { type Subscriber } from '../transport/transport.port';
import { EventHandler } from './handler.decorators';
import { CqrsCoreModule } from './cqrs-core.module';
import { CausewayServiceModule } from './service.module';
import { HEALTH_PROBES } from './service.tokens';

/** A connection that answers its probe only once opened, as redisConnection does. */
function fakeRedis(): ManagedConnection & { opened: boolean } {
  return {
    name: 'redis',
    client: undefined,
    opened: false,
    async open() {
      await new Promise((resolve) => setTimeout(resolve, 5));
      this.opened = true;
    },
    async close() {
      this.opened = false;
    },
    async check() {
      if (!this.opened) throw new Error('not connected');
    },
  };
}

@Injectable()
@EventHandler('Moved', { name: 'positions' })
class PositionsProjector {
  async handle(): Promise<void> {}
}

@Injectable()
@EventHandler('Moved', { name: 'alerts' })
class AlertsProjector {
  async handle(): Promise<void> {}
}

describe('CausewayServiceModule', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const modules = (): Record<string, DynamicModule> => {
    const serializer = new SerializerRegistry().register('Moved', z.object({ x: z.number() }));
    const broker = new InMemoryBroker({ serializer });
    return {
      service: CausewayServiceModule.forRoot({
        service: 'trainer-service',
        instanceId: 'i1',
        logLevel: 'silent',
        connections: [fakeRedis()],
        // Far beyond the test: only the checks recorded at start can show.
        healthIntervalMs: 60_000,
      }),
      cqrs: CqrsCoreModule.forRoot({
        service: 'trainer-service',
        instanceId: 'i1',
        publisher: broker,
        subscriber: broker.subscriber(),
        serializer,
      }),
    };
  };

  it.each([
    ['service', 'cqrs'],
    ['cqrs', 'service'],
  ])(
    'GET /health reports a healthy start as up from the first check, with the bus (imports %s, %s)',
    async (first, second) => {
      const all = modules();
      const moduleRef = await Test.createTestingModule({
        imports: [all[first]!, all[second]!],
      }).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      const health = async () =>
        (await request(app!.getHttpServer()).get('/health').expect(200)).body as HealthSnapshot;
      const deadline = Date.now() + 3_000;
      while (!(await health()).probes.bus && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const snapshot = await health();
      expect(snapshot.status).toBe('up');
      expect(Object.keys(snapshot.probes).sort()).toEqual(['breakers', 'bus', 'redis']);
      // Not one check recorded the service down while it was starting.
      for (const [name, probe] of Object.entries(snapshot.probes))
        expect({ name, failed: probe.history.filter((sample) => !sample.healthy) }).toEqual({
          name,
          failed: [],
        });
    },
  );

  it('GET /health shows at once a probe another module registered at bootstrap, not a period later', async () => {
    // As sse-gateway's `sse-hub` and order-processor's `order-consumer`: added to HEALTH_PROBES
    // in onApplicationBootstrap, after the monitor's first check. /health read `up` without
    // them until the next period (10 s by default) while /health/ready failed on them.
    @Injectable()
    class Hub implements OnApplicationBootstrap {
      constructor(@Inject(HEALTH_PROBES) private readonly probes: HealthProbe[]) {}
      onApplicationBootstrap(): void {
        this.probes.push({
          name: 'sse-hub',
          check: async () => Promise.reject(new Error('the notification log is not read yet')),
        });
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [
        CausewayServiceModule.forRoot({
          service: 'sse-gateway',
          instanceId: 'i1',
          logLevel: 'silent',
          connections: [fakeRedis()],
          healthIntervalMs: 60_000,
        }),
      ],
      providers: [Hub],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const snapshot = (await request(app.getHttpServer()).get('/health').expect(200))
      .body as HealthSnapshot;
    expect({ status: snapshot.status, hub: snapshot.probes['sse-hub']?.latest }).toMatchObject({
      status: 'down',
      hub: { healthy: false, error: 'the notification log is not read yet' },
    });
  });

  it('GET /health/ready and /health show two connections of one name apart, the second as `<name>#2`', async () => {
    // A cache and a bus on two Redis servers, both left with the default name `redis`.
    const down = { ...fakeRedis(), check: async () => Promise.reject(new Error('ECONNREFUSED')) };
    const moduleRef = await Test.createTestingModule({
      imports: [
        CausewayServiceModule.forRoot({
          service: 'trainer-service',
          instanceId: 'i1',
          logLevel: 'silent',
          connections: [fakeRedis(), down],
          healthIntervalMs: 60_000,
        }),
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const ready = await request(app.getHttpServer()).get('/health/ready').expect(503);
    expect(ready.body).toMatchObject({
      status: 'error',
      info: { redis: { status: 'up' } },
      error: { 'redis#2': { status: 'down', message: 'ECONNREFUSED' } },
    });
    const health = (await request(app.getHttpServer()).get('/health').expect(200))
      .body as HealthSnapshot;
    expect(health.status).toBe('down');
    expect(Object.keys(health.probes).sort()).toEqual(['redis', 'redis#2']);
  });

  it('GET /health/ready fails the bus probe, naming them, on handlers that can never subscribe', async () => {
    const serializer = new SerializerRegistry().register('Moved', z.object({ x: z.number() }));
    const broker = new InMemoryBroker({ serializer });
    // A subscriber of the port that refuses for good, as Kafka does a topic setting it refuses
    // (KafkaTopicConfigError is `permanent`): the router gives up instead of retrying.
    const refusing: Subscriber = {
      subscribe: async (topics) => {
        throw Object.assign(new Error(`${topics.join(', ')}: retention.ms refused`), {
          permanent: true,
        });
      },
      close: async () => undefined,
    };
    const moduleRef = await Test.createTestingModule({
      imports: [
        CausewayServiceModule.forRoot({
          service: 'trainer-service',
          instanceId: 'i1',
          logLevel: 'silent',
          connections: [fakeRedis()],
          healthIntervalMs: 60_000,
        }),
        CqrsCoreModule.forRoot({
          service: 'trainer-service',
          instanceId: 'i1',
          publisher: broker,
          subscriber: refusing,
          serializer,
        }),
      ],
      providers: [PositionsProjector, AlertsProjector],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const expected =
      'cannot subscribe for good: positions (events.Moved: retention.ms refused); ' +
      'alerts (events.Moved: retention.ms refused)';
    let body: unknown;
    const deadline = Date.now() + 3_000;
    do {
      const response = await request(app.getHttpServer()).get('/health/ready');
      body = response.body;
      if (response.status === 503 && JSON.stringify(body).includes(expected)) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    } while (Date.now() < deadline);
    expect(body).toMatchObject({ status: 'error', error: { bus: { message: expected } } });
  });

  it('retries a connection that cannot open without logging the password its error quotes', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      let attempts = 0;
      const queue: ManagedConnection = {
        name: 'queue',
        client: undefined,
        target: 'amqp://mq:5672',
        async open() {
          attempts++;
          if (attempts === 1) throw new Error('cannot reach amqp://app:s3cretpw@mq:5672/orders');
        },
        async close() {},
        async check() {},
      };
      const moduleRef = await Test.createTestingModule({
        imports: [
          CausewayServiceModule.forRoot({
            service: 'orders',
            instanceId: 'i1',
            logLevel: 'silent',
            connections: [queue],
            healthIntervalMs: 60_000,
          }),
        ],
      }).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      const warned = warn.mock.calls.map(([message]) => String(message));
      expect(warned).toContainEqual(
        expect.stringContaining(
          'queue to amqp://mq:5672 unreachable (cannot reach amqp://[Redacted]@mq:5672/orders)',
        ),
      );
      expect(warned.join('\n')).not.toContain('s3cretpw');
    } finally {
      warn.mockRestore();
    }
  });

  it.each([
    ['healthIntervalMs', 0],
    ['healthIntervalMs', 0.5],
    ['probeTimeoutMs', 0],
    ['probeTimeoutMs', -1],
  ])('forRoot refuses %s %p, naming it, before the app starts', (option, value) => {
    // healthIntervalMs 0 probed Redis, Kafka and MongoDB every millisecond; probeTimeoutMs 0
    // failed every probe, so /health/ready never answered 200.
    expect(() =>
      CausewayServiceModule.forRoot({
        service: 'svc',
        instanceId: 'svc-1',
        logLevel: 'silent',
        [option]: value,
      }),
    ).toThrow(
      new RegExp(
        `^CausewayServiceModule\\.forRoot: options\\.${option} must be a positive integer`,
      ),
    );
  });
});
