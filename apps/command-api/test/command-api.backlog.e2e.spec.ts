import path from 'node:path';
import Redis from 'ioredis';
import { TokenService } from '@causeway/platform';
import {
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

// The BUILT command-api on the real Redis, with COMMAND_BACKLOG_MAX=3 and a consumer group on
// the command topic that reads nothing (a trainer-service far behind): once more than 3 moves
// wait, moves are refused with 503 `overloaded` and leave nothing behind (no stream entry, no
// status); once the group has caught up, moves are accepted again.
const appDir = path.join(__dirname, '..');
const ns = testNamespace('capibacklog');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('command-api while the command backlog is over COMMAND_BACKLOG_MAX', () => {
  let api: ServiceProcess;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(serverAddress('redis'));
    api = await startServiceProcess({
      appDir,
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
        JWT_SECRET: secret,
        TOPIC_PREFIX: ns.id,
        RATE_LIMIT_POINTS: '10000',
        COMMAND_BACKLOG_MAX: '3',
        REDIS_STREAMS_PARTITIONS: '1',
      },
    });
    await waitForStatus(`${api.url}/health/ready`, 200);
  });

  afterAll(async () => {
    await api?.stop('SIGKILL');
    const keys = await redis.keys(`${ns.id}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
  });

  const stream = () => `${ns.id}:${ns.id}commands.Trainer:normal:0`;

  async function post(url: string, token: string, body: unknown) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as Json,
    };
  }

  it('refuses moves with 503 overloaded, sending nothing, until the handlers catch up', async () => {
    const trainerId = `${ns.id}-ash`;
    const { token } = await tokens.issue(`${ns.id}-user`, { trainerIds: [trainerId] });
    const move = () =>
      post(`${api.url}/api/trainers/${trainerId}/move`, token, {
        directionX: 1,
        directionY: 0,
        action: 'start',
      });
    // No consumer group yet (trainer-service never started): nothing to measure, accepted.
    for (let i = 0; i < 5; i++) expect((await move()).status).toBe(202);
    // trainer-service's group joins and reads nothing: 5 moves wait, more than 3.
    await redis.xgroup('CREATE', stream(), 'commands.Trainer', '0');
    let refused: Awaited<ReturnType<typeof move>> | undefined;
    for (const deadline = Date.now() + 10_000; !refused && Date.now() < deadline;) {
      const answer = await move();
      if (answer.status === 503) refused = answer;
      else await delay(100);
    }
    expect(refused).toBeDefined();
    expect(refused!.retryAfter).toBe('5');
    expect(refused!.body).toMatchObject({
      type: expect.stringMatching(/\/overloaded$/),
      status: 503,
      max: 3,
    });
    expect(refused!.body.waiting).toBeGreaterThan(3);
    expect(refused!.body.detail).toContain('nothing was sent');
    // Refused means not sent and not recorded: the stream holds only the accepted moves, and
    // the commands' statuses are those of the accepted ones.
    const entries = await redis.xlen(stream());
    const statuses = async () => (await redis.keys(`${ns.id}:command-status:*`)).length;
    const recorded = await statuses();
    expect((await move()).status).toBe(503);
    expect(await redis.xlen(stream())).toBe(entries);
    expect(await statuses()).toBe(recorded);
    // JSON-RPC: the same refusal, as error -32005 naming the backlog.
    const rpc = await post(`${api.url}/rpc`, token, {
      jsonrpc: '2.0',
      id: 1,
      method: 'trainer.move',
      params: { trainerId, directionX: 1, directionY: 0, action: 'stop' },
    });
    expect(rpc.status).toBe(200);
    expect(rpc.body.error).toMatchObject({ code: -32005, data: { max: 3 } });
    expect(await redis.xlen(stream())).toBe(entries);

    // Another group of the topic that reads nothing (a tool's, a leftover) does not count.
    await redis.xgroup('CREATE', stream(), 'leftover', '0');
    // The handler's group catches up (reads and acknowledges everything): moves are accepted
    // again.
    const read = (await redis.xreadgroup(
      'GROUP',
      'commands.Trainer',
      'worker',
      'COUNT',
      1000,
      'STREAMS',
      stream(),
      '>',
    )) as [string, [string, string[]][]][];
    await redis.xack(stream(), 'commands.Trainer', ...read[0]![1].map(([id]) => id));
    let accepted: Awaited<ReturnType<typeof move>> | undefined;
    for (const deadline = Date.now() + 10_000; !accepted && Date.now() < deadline;) {
      const answer = await move();
      if (answer.status === 202) accepted = answer;
      else await delay(100);
    }
    expect(accepted?.body).toMatchObject({ status: 'accepted' });
    const status = await fetch(`${api.url}/api/commands/${accepted!.body.commandId}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(status.status).toBe(200);
  }, 60_000);
});
