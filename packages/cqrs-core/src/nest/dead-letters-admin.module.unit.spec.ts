import 'reflect-metadata';
import { type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { SerializerRegistry } from '../messages/serializer.registry';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { DeadLettersAdminModule } from './dead-letters-admin.module';

const TOKEN = 'admin-token-for-tests-0123456789';

describe('/admin/dead-letters', () => {
  let app: INestApplication;
  let queue: InMemoryDeadLetterQueue;
  let broker: InMemoryBroker;
  const auth = { Authorization: `Bearer ${TOKEN}` };

  beforeEach(async () => {
    queue = new InMemoryDeadLetterQueue();
    broker = new InMemoryBroker({
      serializer: new SerializerRegistry().register('Moved', z.object({ x: z.number() })),
    });
    const moduleRef = await Test.createTestingModule({
      imports: [DeadLettersAdminModule.forRoot({ token: TOKEN, queue, publisher: broker })],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    for (const [topic, x] of [
      ['events.Moved', 1],
      ['events.Moved', 2],
      ['events.Other', 3],
    ] as const) {
      await queue.add({
        envelope: testEnvelope('Moved', { x }),
        originalTopic: topic,
        position: `${x}-0`,
        group: 'g',
        handler: 'positions',
        reason: `boom ${x}`,
        errorName: 'TypeError',
        attempts: 3,
        deadLetteredAt: new Date().toISOString(),
      });
    }
  });
  afterEach(() => app.close());

  it.each([
    ['GET', '/admin/dead-letters'],
    ['GET', '/admin/dead-letters/stats'],
    ['POST', '/admin/dead-letters/replay'],
    ['DELETE', '/admin/dead-letters?all=true'],
  ])(
    '%s %s answers 401 problem details without the admin token, and changes nothing',
    async (method, path) => {
      for (const headers of [
        {},
        { Authorization: 'Bearer wrong-token-wrong-token' },
        { Authorization: TOKEN },
      ]) {
        const response = await request(app.getHttpServer())
          [method.toLowerCase() as 'get'](path)
          .set(headers);
        expect(response.status).toBe(401);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.headers['www-authenticate']).toBe('Bearer');
        expect(response.body).toMatchObject({ status: 401, title: 'Unauthorized' });
      }
      expect((await queue.stats()).total).toBe(3);
    },
  );

  it('lists with filters and counts per topic and reason', async () => {
    const list = await request(app.getHttpServer())
      .get('/admin/dead-letters?topic=events.Moved')
      .set(auth);
    expect(list.status).toBe(200);
    expect(list.body.count).toBe(2);
    expect(list.body.letters[0]).toMatchObject({
      originalTopic: 'events.Moved',
      reason: 'boom 1',
      attempts: 3,
    });
    const stats = await request(app.getHttpServer()).get('/admin/dead-letters/stats').set(auth);
    expect(stats.body).toEqual({
      total: 3,
      byTopic: { 'events.Moved': 2, 'events.Other': 1 },
      byReason: { TypeError: 3 },
    });
  });

  it('replays selected letters to their topic', async () => {
    const seen: unknown[] = [];
    await broker
      .subscriber()
      .subscribe(
        ['events.Moved'],
        { group: 'g', consumer: 'c' },
        async (d) => void seen.push(d.envelope.data),
      );
    const response = await request(app.getHttpServer())
      .post('/admin/dead-letters/replay')
      .set(auth)
      .send({ topic: 'events.Moved' });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ replayed: 2, skipped: 0 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([{ x: 1 }, { x: 2 }]);
    expect((await queue.stats()).total).toBe(1);
  });

  it('purges by filter, refuses a bare purge, and names a bad filter', async () => {
    const bare = await request(app.getHttpServer()).delete('/admin/dead-letters').set(auth);
    expect(bare.status).toBe(400);
    expect(bare.body.detail).toMatch(/all=true/);
    const bad = await request(app.getHttpServer())
      .get('/admin/dead-letters?limit=-1&colour=red')
      .set(auth);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'colour',
      'limit',
    ]);
    expect((await queue.stats()).total).toBe(3);
    const purge = await request(app.getHttpServer())
      .delete('/admin/dead-letters?topic=events.Other')
      .set(auth);
    expect(purge.body).toEqual({ purged: 1 });
    expect((await queue.stats()).total).toBe(2);
  });
});
