import 'reflect-metadata';
import { type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { SerializerRegistry } from '../messages/serializer.registry';
import { DeadLettersAdminModule } from '../nest/dead-letters-admin.module';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { deadLettersCli } from './dead-letters.cli';

const TOKEN = 'cli-admin-token-0123456789abcdef';

describe('causeway-dead-letters CLI', () => {
  let app: INestApplication;
  let url: string;
  const queue = new InMemoryDeadLetterQueue();

  beforeAll(async () => {
    const broker = new InMemoryBroker({
      serializer: new SerializerRegistry().register('Moved', z.object({ x: z.number() })),
    });
    const moduleRef = await Test.createTestingModule({
      imports: [DeadLettersAdminModule.forRoot({ token: TOKEN, queue, publisher: broker })],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
    for (const x of [1, 2]) {
      await queue.add({
        envelope: testEnvelope('Moved', { x }),
        originalTopic: `events.T${x}`,
        position: '1-0',
        group: 'g',
        handler: 'h',
        reason: 'boom',
        errorName: 'Error',
        attempts: 3,
        deadLetteredAt: new Date().toISOString(),
      });
    }
  });
  afterAll(() => app.close());

  async function run(argv: string[], env: NodeJS.ProcessEnv = { CAUSEWAY_ADMIN_TOKEN: TOKEN }) {
    let out = '';
    let err = '';
    const code = await deadLettersCli(argv, {
      env,
      out: (t) => (out += t),
      err: (t) => (err += t),
    });
    return { code, out, err };
  }

  it('shows stats and lists with a filter', async () => {
    const stats = await run(['stats', '--url', url]);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.out)).toMatchObject({
      total: 2,
      byTopic: { 'events.T1': 1, 'events.T2': 1 },
    });
    const list = await run(['list', '--url', url, '--topic', 'events.T2']);
    expect(
      JSON.parse(list.out).letters.map((l: { originalTopic: string }) => l.originalTopic),
    ).toEqual(['events.T2']);
  });

  it('purges by topic and refuses unfiltered replays', async () => {
    expect((await run(['replay', '--url', url])).code).toBe(2);
    const purge = await run(['purge', '--url', url, '--topic', 'events.T1']);
    expect(JSON.parse(purge.out)).toEqual({ purged: 1 });
  });

  it('fails clearly without a token, with a wrong token, or with an unknown command', async () => {
    expect(await run(['stats', '--url', url], {})).toMatchObject({
      code: 2,
      err: 'CAUSEWAY_ADMIN_TOKEN is not set\n',
    });
    const wrong = await run(['stats', '--url', url], {
      CAUSEWAY_ADMIN_TOKEN: 'wrong-token-wrong-token',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^401 /);
    expect((await run(['explode', '--url', url])).code).toBe(2);
  });
});
