import 'reflect-metadata';
import { Global, type INestApplication, type LoggerService, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';
import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { RedisDeadLetterQueue } from '../redis/redis.dead-letter-queue';
import { SerializerRegistry } from '../messages/serializer.registry';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { parseBodies } from './body.parsers';
import { CqrsCoreModule } from './cqrs-core.module';
import { DeadLettersAdminModule } from './dead-letters-admin.module';
import { ProblemException, problemType } from './problem-details.filter';
import { METRICS_REGISTRY } from './service.tokens';

const TOKEN = 'admin-token-for-tests-0123456789';
const bearer = (token = TOKEN) => ({ Authorization: `Bearer ${token}` });

/** A dead letter of a `Moved` event of `topic` that the positions handler gave up on. */
function moved(topic: string, x: number) {
  return {
    envelope: testEnvelope('Moved', { x }),
    originalTopic: topic,
    position: `${x}-0`,
    group: 'g',
    handler: 'positions',
    reason: `boom ${x}`,
    errorName: 'TypeError',
    attempts: 3,
    deadLetteredAt: new Date().toISOString(),
  };
}

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
    ] as const)
      await queue.add(moved(topic, x));
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
        expect(response.headers['www-authenticate']).toBe('Bearer realm="causeway"');
        expect(response.body).toMatchObject({
          type: 'https://causeway.dev/problems/unauthenticated',
          status: 401,
          title: 'Unauthorized',
          reason: 'Authorization' in headers ? 'invalid' : 'missing',
        });
      }
      expect((await queue.stats()).total).toBe(3);
    },
  );

  it('takes the auth scheme in any case, as RFC 9110 says (bearer, BEARER)', async () => {
    for (const scheme of ['bearer', 'BEARER']) {
      const response = await request(app.getHttpServer())
        .get('/admin/dead-letters/stats')
        .set({ Authorization: `${scheme} ${TOKEN}` });
      expect(response.status).toBe(200);
    }
  });

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
    // A key of byReason selects its letters.
    const byName = await request(app.getHttpServer())
      .get('/admin/dead-letters?errorName=TypeError&topic=events.Other')
      .set(auth);
    expect(byName.body.count).toBe(1);
  });

  it('refuses a parameter to stats with a 400 naming it, instead of whole-queue counts taken for filtered ones', async () => {
    for (const [query, fields] of [
      ['topic=events.Moved', ['topic']],
      ['handler=positions&errorName=TypeError', ['handler', 'errorName']],
      ['limit=1', ['limit']],
      ['nonsense=1', ['nonsense']],
    ] as const) {
      const response = await request(app.getHttpServer())
        .get(`/admin/dead-letters/stats?${query}`)
        .set(auth);
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.body).toMatchObject({
        type: 'https://causeway.dev/problems/invalid-request',
        status: 400,
        title: 'Bad Request',
      });
      expect(response.body.detail).toMatch(/takes no parameter/);
      expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual(fields);
    }
    const bare = await request(app.getHttpServer()).get('/admin/dead-letters/stats').set(auth);
    expect(bare.status).toBe(200);
    expect(bare.body.total).toBe(3);
  });

  it('answers a page of 1 000 letters at most, with the cursor of the next one; a bad cursor is a 400', async () => {
    for (let x = 4; x <= 1_002; x++) await queue.add(moved('events.Many', x));
    const first = await request(app.getHttpServer()).get('/admin/dead-letters').set(auth);
    expect(first.body.count).toBe(1_000);
    expect(first.body.next).toBe(first.body.letters[999].id);
    const rest = await request(app.getHttpServer())
      .get(`/admin/dead-letters?after=${encodeURIComponent(first.body.next)}`)
      .set(auth);
    expect(rest.body).toMatchObject({ count: 2 });
    expect(rest.body.next).toBeUndefined();
    expect(rest.body.letters.map((l: { envelope: { data: unknown } }) => l.envelope.data)).toEqual([
      { x: 1_001 },
      { x: 1_002 },
    ]);
    const bad = await request(app.getHttpServer()).get('/admin/dead-letters?after=nope').set(auth);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ type: 'https://causeway.dev/problems/invalid-request' });
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect(bad.body.errors).toEqual([
      {
        field: 'after',
        message: expect.stringContaining('after must be a letter id of this queue'),
      },
    ]);
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
    expect(response.body).toEqual({ replayed: 2, skipped: 0, skips: [], failed: [], failures: 0 });
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

  it('lists and purges the letters dead-lettered before a date-time; a date that is none is a 400 naming it', async () => {
    await queue.add({ ...moved('events.Moved', 4), deadLetteredAt: '2026-01-01T00:00:00.000Z' });
    for (const before of ['yesterday', '2026-13-01T00:00:00Z', '2026-01-01', '']) {
      const refused = await request(app.getHttpServer())
        .delete(`/admin/dead-letters?deadLetteredBefore=${encodeURIComponent(before)}`)
        .set(auth);
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([
        { field: 'deadLetteredBefore', message: expect.stringContaining('ISO-8601 date-time') },
      ]);
    }
    expect((await queue.stats()).total).toBe(4);
    const cutoff = encodeURIComponent('2026-01-02T01:00:00+01:00');
    const listed = await request(app.getHttpServer())
      .get(`/admin/dead-letters?deadLetteredBefore=${cutoff}`)
      .set(auth);
    expect(listed.body.letters.map((letter: { reason: string }) => letter.reason)).toEqual([
      'boom 4',
    ]);
    const purged = await request(app.getHttpServer())
      .delete(`/admin/dead-letters?deadLetteredBefore=${cutoff}`)
      .set(auth);
    expect(purged.body).toEqual({ purged: 1 });
    expect((await queue.list()).map((letter) => letter.reason).sort()).toEqual([
      'boom 1',
      'boom 2',
      'boom 3',
    ]);
  });

  async function ids() {
    return (await queue.list()).map((letter) => letter.id);
  }

  it('selects letters by one or several ids when listing and purging', async () => {
    const [first, second, third] = await ids();
    const one = await request(app.getHttpServer())
      .get('/admin/dead-letters')
      .query({ ids: second })
      .set(auth);
    expect(one.status).toBe(200);
    expect(one.body.letters.map((l: { id: string }) => l.id)).toEqual([second]);
    const two = await request(app.getHttpServer())
      .get(`/admin/dead-letters?ids=${first}&ids=${third}`)
      .set(auth);
    expect(two.body.letters.map((l: { id: string }) => l.id)).toEqual([first, third]);
    const purge = await request(app.getHttpServer())
      .delete('/admin/dead-letters')
      .query({ ids: first, topic: 'events.Moved' })
      .set(auth);
    expect(purge.body).toEqual({ purged: 1 });
    expect(await ids()).toEqual([second, third]);
  });

  it('reads every query parameter, past the 1 000 Express keeps: no id nor filter is dropped', async () => {
    const [first, second, third] = await ids();
    // 1 100 ids (the filter takes 10 000), the letters' among them, then more parameters.
    const unknown = Array.from({ length: 1_100 }, (_, n) => `ids=dl-${1_000 + n}`).join('&');
    const listed = await request(app.getHttpServer())
      .get(`/admin/dead-letters?${unknown}&ids=${second}`)
      .set(auth);
    expect(listed.body.letters?.map((l: { id: string }) => l.id)).toEqual([second]);
    const misspelt = await request(app.getHttpServer())
      .get(`/admin/dead-letters?${unknown}&topc=events.Moved`)
      .set(auth);
    expect({ status: misspelt.status, errors: misspelt.body.errors }).toEqual({
      status: 400,
      errors: [{ field: 'topc', message: 'is not a known parameter' }],
    });
    // The topic narrows the purge: the letter of events.Other stays.
    const purge = await request(app.getHttpServer())
      .delete(`/admin/dead-letters?${unknown}&ids=${first}&ids=${third}&topic=events.Moved`)
      .set(auth);
    expect(purge.body).toEqual({ purged: 1 });
    expect(await ids()).toEqual([second, third]);
  });

  it('refuses a purge with only a limit, naming the filters, and purges nothing', async () => {
    const response = await request(app.getHttpServer())
      .delete('/admin/dead-letters?limit=1')
      .set(auth);
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.body.detail).toMatch(
      /topic, handler, type, reason, errorName, deadLetteredBefore, ids.*all=true/,
    );
    expect((await queue.stats()).total).toBe(3);
  });

  it.each([
    ['text/plain', JSON.stringify({ ids: ['dl-1'] })],
    ['application/merge-patch+json', JSON.stringify({ ids: ['dl-1'] })],
    ['application/x-www-form-urlencoded', 'ids=dl-1'],
  ])('answers 415 to a replay sent as %s, and replays nothing', async (type, body) => {
    const response = await request(app.getHttpServer())
      .post('/admin/dead-letters/replay')
      .set(auth)
      .set('Content-Type', type)
      .send(body);
    expect(response.status).toBe(415);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.body.type).toBe('https://causeway.dev/problems/unsupported-media-type');
    expect(response.body.detail).toMatch(/application\/json/);
    expect((await queue.stats()).total).toBe(3);
  });

  it('refuses a replay without a filter unless it says all, and replays nothing', async () => {
    const empty = await request(app.getHttpServer()).post('/admin/dead-letters/replay').set(auth);
    expect([400, 415]).toContain(empty.status);
    for (const body of [{}, { limit: 1 }, { all: false }]) {
      const response = await request(app.getHttpServer())
        .post('/admin/dead-letters/replay')
        .set(auth)
        .send(body);
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body)).toMatch(/all/);
    }
    expect((await queue.stats()).total).toBe(3);
    const all = await request(app.getHttpServer())
      .post('/admin/dead-letters/replay')
      .set(auth)
      .send({ all: true });
    expect(all.body).toEqual({ replayed: 3, skipped: 0, skips: [], failed: [], failures: 0 });
    expect((await queue.stats()).total).toBe(0);
  });

  it('refuses a limit that is not an integer from 1 to 10000, written as one, and changes nothing', async () => {
    for (const limit of ['0x10', '1e3', '%205', '1.5', '0', '10001', 'ten']) {
      const list = await request(app.getHttpServer())
        .get(`/admin/dead-letters?topic=events.Other&limit=${limit}`)
        .set(auth);
      expect([limit, list.status, list.body.errors]).toEqual([
        limit,
        400,
        [{ field: 'limit', message: 'must be an integer from 1 to 10000' }],
      ]);
    }
    for (const limit of [true, [5], '5', 2.5]) {
      const replay = await request(app.getHttpServer())
        .post('/admin/dead-letters/replay')
        .set(auth)
        .send({ all: true, limit });
      expect([limit, replay.status, replay.body.errors?.[0]?.field]).toEqual([limit, 400, 'limit']);
    }
    expect((await queue.stats()).total).toBe(3);
    const one = await request(app.getHttpServer()).get('/admin/dead-letters?limit=1').set(auth);
    expect(one.status).toBe(200);
  });

  it('replays exactly the letters named by id', async () => {
    const [, second] = await ids();
    const response = await request(app.getHttpServer())
      .post('/admin/dead-letters/replay')
      .set(auth)
      .send({ ids: [second] });
    expect(response.body).toEqual({ replayed: 1, skipped: 0, skips: [], failed: [], failures: 0 });
    expect(await ids()).not.toContain(second);
    expect((await queue.stats()).total).toBe(2);
  });

  it('replays past a letter it cannot publish and reports it; the log says why', async () => {
    const logged: string[] = [];
    app.useLogger(capture(logged));
    const bad = await queue.add({
      envelope: testEnvelope('NoSuchType', { x: 9 }),
      originalTopic: 'events.Moved',
      position: '9-0',
      group: 'g',
      handler: 'positions',
      reason: 'boom 9',
      errorName: 'TypeError',
      attempts: 3,
      deadLetteredAt: new Date().toISOString(),
    });
    await queue.add({ ...(await queue.list({ ids: ['dl-1'] }))[0]!, position: '10-0' });
    const response = await request(app.getHttpServer())
      .post('/admin/dead-letters/replay')
      .set(auth)
      .send({ topic: 'events.Moved' });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      replayed: 3,
      skipped: 0,
      skips: [],
      failed: [{ id: bad, reason: expect.stringContaining('NoSuchType') }],
      failures: 1,
    });
    expect((await queue.list({ originalTopic: 'events.Moved' })).map((l) => l.id)).toEqual([bad]);
    expect(logged.join('\n')).toContain(bad);
    expect(logged.join('\n')).toContain('NoSuchType');
  });

  describe('when the dead-letter store is down', () => {
    let down: INestApplication;
    const logged: string[] = [];
    const failure = new Error('connect ECONNREFUSED 10.0.0.7:6379');
    beforeEach(async () => {
      const broken = {
        add: () => Promise.reject(failure),
        list: () => Promise.reject(failure),
        stats: () => Promise.reject(failure),
        replay: () => Promise.reject(failure),
        purge: () => Promise.reject(failure),
      };
      const moduleRef = await Test.createTestingModule({
        imports: [
          DeadLettersAdminModule.forRoot({ token: TOKEN, queue: broken, publisher: broker }),
        ],
      }).compile();
      down = moduleRef.createNestApplication({ logger: capture(logged) });
      await down.init();
    });
    afterEach(() => down.close());

    it.each([
      ['GET', '/admin/dead-letters', undefined],
      ['GET', '/admin/dead-letters/stats', undefined],
      ['POST', '/admin/dead-letters/replay', { all: true }],
      ['DELETE', '/admin/dead-letters?all=true', undefined],
    ])('%s %s answers 503 naming the store, and logs the cause', async (method, path, body) => {
      logged.length = 0;
      let call = request(down.getHttpServer())[method.toLowerCase() as 'get'](path).set(auth);
      if (body) call = call.send(body);
      const response = await call;
      expect(response.status).toBe(503);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
      expect(response.body).toMatchObject({
        type: 'https://causeway.dev/problems/dead-letters-unavailable',
        status: 503,
        title: 'Service Unavailable',
      });
      expect(response.body.detail).toMatch(/dead-letter store is unavailable/);
      expect(response.body.detail).toContain('ECONNREFUSED');
      expect(logged.join('\n')).toContain('ECONNREFUSED');
    });

    it('answers 503 when a real Redis client cannot connect', async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      await new Promise((resolve) => server.close(resolve));
      const redis = new Redis({
        host: '127.0.0.1',
        port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      redis.on('error', () => undefined);
      const moduleRef = await Test.createTestingModule({
        imports: [
          DeadLettersAdminModule.forRoot({
            token: TOKEN,
            queue: new RedisDeadLetterQueue(redis),
            publisher: broker,
          }),
        ],
      }).compile();
      const real = moduleRef.createNestApplication({ logger: false });
      await real.init();
      try {
        const response = await request(real.getHttpServer())
          .get('/admin/dead-letters/stats')
          .set(auth);
        expect(response.status).toBe(503);
        expect(response.body.detail).toMatch(/^the dead-letter store is unavailable: /);
      } finally {
        await real.close();
        // Already ended (refused, no retry): disconnect() would arm ioredis' 2 s close timer.
        if (redis.status !== 'end') redis.disconnect();
      }
    });

    /** GET /admin/dead-letters/stats with a store failing with `error`: the answer and the log. */
    async function statsFailingWith(
      error: Error,
    ): Promise<{ response: request.Response; logged: string }> {
      const lines: string[] = [];
      const moduleRef = await Test.createTestingModule({
        imports: [
          DeadLettersAdminModule.forRoot({
            token: TOKEN,
            queue: {
              add: () => Promise.reject(error),
              list: () => Promise.reject(error),
              stats: () => Promise.reject(error),
              replay: () => Promise.reject(error),
              purge: () => Promise.reject(error),
            },
            publisher: broker,
          }),
        ],
      }).compile();
      const leaky = moduleRef.createNestApplication({ logger: capture(lines) });
      await leaky.init();
      try {
        const response = await request(leaky.getHttpServer())
          .get('/admin/dead-letters/stats')
          .set(auth);
        return { response, logged: lines.join('\n') };
      } finally {
        await leaky.close();
      }
    }

    it('never answers nor logs the password of a URL the store error quotes', async () => {
      const { response, logged } = await statsFailingWith(
        new Error('cannot reach mongodb://app:s3cretpw@db:27017/letters'),
      );
      expect(response.status).toBe(503);
      expect(response.body.detail).toContain('mongodb://[Redacted]@db:27017/letters');
      expect(logged).toContain('mongodb://[Redacted]@db:27017/letters');
      expect(JSON.stringify(response.body) + logged).not.toContain('s3cretpw');
    });

    it('never answers nor logs a password the store error holds outside a URL', async () => {
      const { response, logged } = await statsFailingWith(
        new Error('cannot connect (requirepass s3cretpw; password=s3cretpw)'),
      );
      expect(response.status).toBe(503);
      expect(response.body.detail).toContain('requirepass [Redacted]; password=[Redacted]');
      expect(JSON.stringify(response.body) + logged).not.toContain('s3cretpw');
    });

    it('still answers 400 to a bad filter', async () => {
      const response = await request(down.getHttpServer())
        .get('/admin/dead-letters?colour=red')
        .set(auth);
      expect(response.status).toBe(400);
    });
  });
});

/** A logger that keeps what is logged (messages and stacks), for assertions. */
function capture(lines: string[]): LoggerService {
  const keep = (...parts: unknown[]) =>
    void lines.push(
      parts.map((p) => (p instanceof Error ? `${p.message}\n${p.stack}` : String(p))).join(' '),
    );
  return { log: keep, error: keep, warn: keep, debug: keep, verbose: keep, fatal: keep };
}

describe('DeadLettersAdminModule.forRootAsync', () => {
  const SETTINGS = 'SETTINGS';
  @Module({
    providers: [{ provide: SETTINGS, useValue: { adminToken: TOKEN } }],
    exports: [SETTINGS],
  })
  class SettingsModule {}

  it('takes its options from a factory with injected providers', async () => {
    const queue = new InMemoryDeadLetterQueue();
    const publisher = new InMemoryBroker({ serializer: new SerializerRegistry() });
    const moduleRef = await Test.createTestingModule({
      imports: [
        DeadLettersAdminModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SETTINGS],
          useFactory: (settings: { adminToken: string }) => ({
            token: settings.adminToken,
            queue,
            publisher,
          }),
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const server = app.getHttpServer();
      await request(server).get('/admin/dead-letters/stats').expect(401);
      const stats = await request(server)
        .get('/admin/dead-letters/stats')
        .set('Authorization', `Bearer ${TOKEN}`)
        .expect(200);
      expect(stats.body).toEqual({ total: 0, byTopic: {}, byReason: {} });
    } finally {
      await app.close();
    }
  });

  it('tells `refused` of each request without the token, before its 401, and answers what it throws', async () => {
    const queue = new InMemoryDeadLetterQueue();
    await queue.add(moved('events.Moved', 1));
    const told: (string | undefined)[] = [];
    const moduleRef = await Test.createTestingModule({
      imports: [
        DeadLettersAdminModule.forRoot({
          token: TOKEN,
          queue,
          publisher: new InMemoryBroker({ serializer: new SerializerRegistry() }),
          // A rate of two refusals per address, as an app would keep in Redis.
          refused: async (request) => {
            told.push(request.headers.authorization);
            if (told.length > 2)
              throw new ProblemException(
                { type: problemType('rate-limited'), title: 'Too Many Requests', status: 429 },
                { headers: { 'Retry-After': '7' } },
              );
          },
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const server = app.getHttpServer();
      await request(server).get('/admin/dead-letters/stats').set(bearer()).expect(200);
      await request(server).get('/admin/dead-letters/stats').expect(401);
      await request(server).delete('/admin/dead-letters?all=true').set(bearer('guess')).expect(401);
      const limited = await request(server)
        .delete('/admin/dead-letters?all=true')
        .set(bearer('another-guess'));
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBe('7');
      expect(limited.body).toMatchObject({ type: problemType('rate-limited'), status: 429 });
      expect(told).toEqual([undefined, 'Bearer guess', 'Bearer another-guess']);
      expect((await queue.stats()).total).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('refuses a token shorter than 16 characters at start-up', async () => {
    const compiled = Test.createTestingModule({
      imports: [
        DeadLettersAdminModule.forRootAsync({
          useFactory: async () => ({
            token: 'short',
            queue: new InMemoryDeadLetterQueue(),
            publisher: new InMemoryBroker({ serializer: new SerializerRegistry() }),
          }),
        }),
      ],
    }).compile();
    await expect(compiled).rejects.toThrow('ADMIN_TOKEN must be at least 16 characters');
  });

  it("replays through CqrsCoreModule's bus publisher by default: counted like every publish", async () => {
    const registry = new Registry();
    @Global()
    @Module({
      providers: [{ provide: METRICS_REGISTRY, useValue: registry }],
      exports: [METRICS_REGISTRY],
    })
    class Metrics {}
    const serializer = new SerializerRegistry().register('Moved', z.object({ x: z.number() }));
    const bus = new InMemoryBroker({ serializer });
    const letters = new InMemoryDeadLetterQueue();
    await letters.add(moved('events.Moved', 7));
    const moduleRef = await Test.createTestingModule({
      imports: [
        Metrics,
        CqrsCoreModule.forRoot({
          service: 's',
          instanceId: 'i1',
          publisher: bus,
          subscriber: bus.subscriber(),
          serializer,
        }),
        DeadLettersAdminModule.forRoot({ token: TOKEN, queue: letters }),
      ],
    }).compile();
    const counted = moduleRef.createNestApplication({ logger: false });
    await counted.init();
    try {
      const response = await request(counted.getHttpServer())
        .post('/admin/dead-letters/replay')
        .set('Authorization', `Bearer ${TOKEN}`)
        .send({ all: true });
      expect(response.body).toMatchObject({ replayed: 1 });
      const published = (await registry.getSingleMetric('causeway_messages_published_total')!.get())
        .values;
      expect(published).toEqual([
        expect.objectContaining({
          value: 1,
          labels: expect.objectContaining({ topic: 'events.Moved' }),
        }),
      ]);
    } finally {
      await counted.close();
      await bus.close();
    }
  });

  it('refuses to start without a publisher: none given and no CqrsCoreModule', async () => {
    const compiled = Test.createTestingModule({
      imports: [
        DeadLettersAdminModule.forRoot({ token: TOKEN, queue: new InMemoryDeadLetterQueue() }),
      ],
    }).compile();
    await expect(compiled).rejects.toThrow(
      'DeadLettersAdminModule needs a publisher for replays: import CqrsCoreModule',
    );
  });
});

describe('/admin/dead-letters behind the service body parsers (parseBodies)', () => {
  let app: INestApplication;
  let queue: InMemoryDeadLetterQueue;
  const refusals: string[] = [];

  beforeEach(async () => {
    refusals.length = 0;
    queue = new InMemoryDeadLetterQueue();
    await queue.add(moved('events.Moved', 1));
    const moduleRef = await Test.createTestingModule({
      imports: [
        DeadLettersAdminModule.forRoot({
          token: TOKEN,
          queue,
          publisher: new InMemoryBroker({
            serializer: new SerializerRegistry().register('Moved', z.object({ x: z.number() })),
          }),
          refused: async (refusedRequest) => void refusals.push(refusedRequest.url ?? ''),
        }),
      ],
    }).compile();
    // As bootstrapService creates every app.
    app = moduleRef.createNestApplication({ logger: false, bodyParser: false });
    parseBodies(app);
    await app.init();
  });
  afterEach(() => app.close());

  it.each([
    ['a body past the parser limit', 'x'.repeat(300_000)],
    ['a body that is not JSON', '{"all": tru'],
  ])(
    'answers a replay with %s and no valid admin token 401, not what the parser says of it',
    async (_what, body) => {
      for (const headers of [{}, { Authorization: 'Bearer wrong-token-wrong-token' }]) {
        const response = await request(app.getHttpServer())
          .post('/admin/dead-letters/replay')
          .set({ ...headers, 'Content-Type': 'application/json' })
          .send(body);
        expect({ status: response.status, type: response.body.type }).toEqual({
          status: 401,
          type: 'https://causeway.dev/problems/unauthenticated',
        });
      }
      expect(refusals).toEqual(['/admin/dead-letters/replay', '/admin/dead-letters/replay']);
      expect((await queue.stats()).total).toBe(1);
    },
  );

  it('answers 401 before the body has arrived: it is not waited for', async () => {
    await new Promise<void>((listening) => app.getHttpServer().listen(0, '127.0.0.1', listening));
    const { port } = app.getHttpServer().address() as AddressInfo;
    const sent = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/admin/dead-letters/replay',
      headers: { 'Content-Type': 'application/json', 'Content-Length': '1000000' },
    });
    try {
      // A tenth of the body announced, and the request left open: a parser waits for the rest.
      sent.write(`{"topic": "${'x'.repeat(100_000)}`);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        sent.once('response', resolve).once('error', reject);
      });
      response.resume();
      expect(response.statusCode).toBe(401);
    } finally {
      sent.destroy();
    }
  });

  it('still parses the body of a request with the admin token, and says what is wrong with it', async () => {
    const malformed = await request(app.getHttpServer())
      .post('/admin/dead-letters/replay')
      .set({ ...bearer(), 'Content-Type': 'application/json' })
      .send('{"all": tru');
    expect({ status: malformed.status, type: malformed.body.type }).toEqual({
      status: 400,
      type: 'https://causeway.dev/problems/malformed-json',
    });
    const large = await request(app.getHttpServer())
      .post('/admin/dead-letters/replay')
      .set({ ...bearer(), 'Content-Type': 'application/json' })
      .send('x'.repeat(300_000));
    expect(large.status).toBe(413);
    const replay = await request(app.getHttpServer())
      .post('/admin/dead-letters/replay')
      .set(bearer())
      .send({ all: true });
    expect(replay.body).toMatchObject({ replayed: 1 });
  });
});
