import { testNamespace } from '@causeway/testkit';
import { redisConnection } from '../src/redis';
import { AckBatcher } from '../src/redis/redis-streams.acks';

// Where a subscription's acknowledgements go (AckBatcher's route). While the reader waits for
// room they go on its connection, so that Redis applies them before the next read and the room
// they free counts for it at once; until session 44 they went on the command connection and
// counted as held until their reply came back.
describe('redis-streams acknowledgements routed with the reads', () => {
  const ns = testNamespace('streamsacks');
  const command = redisConnection({ url: ns.redisUrl });
  const reader = redisConnection({ url: ns.redisUrl });
  const stream = `${ns.keyPrefix}acks`;
  let ids: string[] = [];

  beforeAll(() => Promise.all([command.open(), reader.open()]));
  afterAll(async () => {
    await command.client.del(stream);
    await Promise.all([command.close(), reader.close()]);
  });
  beforeEach(async () => {
    await command.client.del(stream);
    await command.client.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
    for (let i = 0; i < 3; i++) await command.client.xadd(stream, '*', 'n', String(i));
    const reply = (await command.client.xreadgroup('GROUP', 'g', 'c', 'STREAMS', stream, '>')) as [
      string,
      [string, string[]][],
    ][];
    ids = reply[0]![1].map(([id]) => id);
  });

  const pending = async () =>
    Number(((await command.client.xpending(stream, 'g')) as unknown[])[0]);
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const batcher = (heard: string[]) =>
    new AckBatcher<string>(
      command.client,
      'g',
      { acknowledged: (items) => heard.push(...items), failed: () => undefined },
      reader.client,
    );

  it("writes them on the free reader's connection: Redis applies them before the read sent next on it", async () => {
    const heard: string[] = [];
    const acks = batcher(heard);
    acks.routeTo('reader');
    for (const id of ids) acks.ack(stream, id, id);
    await turns(1); // written on the reader's connection, not replied yet
    // The read sent right after them on the same connection sees them applied: nothing of the
    // consumer's own history is pending any more.
    const history = (await reader.client.xreadgroup('GROUP', 'g', 'c', 'STREAMS', stream, '0')) as [
      string,
      unknown[],
    ][];
    expect(history[0]![1]).toEqual([]);
    const deadline = Date.now() + 5_000;
    while (heard.length < 3 && Date.now() < deadline) await turns(1);
    expect(heard).toEqual(ids);
  });

  it("writes them on the free reader's connection, counted as room for its next read until they replied", async () => {
    const heard: string[] = [];
    const acks = batcher(heard);
    acks.routeTo('reader');
    for (const id of ids) acks.ack(stream, id, id);
    // Written on the next turn; not replied yet right after it (no I/O was polled in between).
    await turns(1);
    expect(await Promise.resolve(acks.queued(stream))).toBe(3);
    expect(heard).toEqual([]);
    const deadline = Date.now() + 5_000;
    while (heard.length < 3 && Date.now() < deadline) await turns(1);
    expect(heard).toEqual(ids);
    expect(acks.queued(stream)).toBe(0);
    expect(await pending()).toBe(0);
  });

  it('goes on the command connection while the reader is busy with a read', async () => {
    const heard: string[] = [];
    const acks = batcher(heard);
    acks.routeTo('command');
    for (const id of ids) acks.ack(stream, id, id);
    const deadline = Date.now() + 5_000;
    while (heard.length < 3 && Date.now() < deadline) await turns(1);
    expect(heard).toEqual(ids);
    expect(await pending()).toBe(0);
  });
});
