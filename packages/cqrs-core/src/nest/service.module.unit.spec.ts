import 'reflect-metadata';
import { type DynamicModule, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { z } from 'zod';
import { type ManagedConnection } from '../connections/managed-connection.port';
import { type HealthSnapshot } from '../health/health.monitor';
import { SerializerRegistry } from '../messages/serializer.registry';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { CqrsCoreModule } from './cqrs-core.module';
import { CausewayServiceModule } from './service.module';

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
});
