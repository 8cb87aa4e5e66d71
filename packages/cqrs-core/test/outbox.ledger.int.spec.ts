import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { MessageFactory } from '../src';
import { mongoConnection, MongoEventStore, POSITIONS_PER_SLOT } from '../src/mongodb';
import { RedisForwardLedger, RedisSlotHint } from '../src/redis';

// The forward ledger in Redis over the MongoDB store's slots (docs/adr/005, session 4): what it
// lets a round skip, and that units of a log created again never count.
describe('RedisForwardLedger over the MongoDB store', () => {
  const ns = testNamespace('ledger');
  const redis = new Redis(ns.redisUrl);
  const connection = mongoConnection({ uri: ns.mongoUri(), name: 'ledger' });
  const factory = new MessageFactory();

  beforeAll(() => connection.open());
  afterAll(async () => {
    await connection.client.db!.dropDatabase();
    await connection.close();
    const keys = await redis.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const open = async () => {
    const store = new MongoEventStore({
      connection: connection.client,
      slotHint: new RedisSlotHint(redis, { keyPrefix: ns.keyPrefix }),
    });
    const units = store.ledgerUnits();
    const ledger = new RedisForwardLedger({
      client: redis,
      key: () => `${ns.keyPrefix}ledger:{${units.log}}`,
      units,
    });
    await store.init();
    const append = async (n: number) =>
      (
        await store.append('s', [factory.event('Happened', { n })], {
          expectedVersion: n - 1,
        })
      ).positions[0]!;
    return { store, ledger, append };
  };

  it('passes the run of recorded appends from the checkpoint, and is caught up at the head', async () => {
    const { ledger, append } = await open();
    const [p1, p2, p3] = [await append(1), await append(2), await append(3)];
    const end = (position: number) =>
      Math.floor(position / POSITIONS_PER_SLOT) * POSITIONS_PER_SLOT + POSITIONS_PER_SLOT - 1;

    await ledger.record([p1]);
    await ledger.record([p3]);
    // The second append is not recorded: the checkpoint may only pass the first.
    expect(await ledger.advance(0)).toEqual({ through: end(p1), caughtUp: false });
    await ledger.record([p2]);
    expect(await ledger.advance(end(p1))).toEqual({ through: end(p3), caughtUp: true });
    // Nothing new: the checkpoint stays, caught up.
    expect(await ledger.advance(end(p3))).toEqual({ through: end(p3), caughtUp: true });
    // An append nobody recorded (its publisher died): not caught up, the round must read.
    await append(4);
    expect(await ledger.advance(end(p3))).toEqual({ through: end(p3), caughtUp: false });
  });

  it('says which positions are recorded (by any process), in one call', async () => {
    await connection.client.db!.dropDatabase();
    const { ledger, append } = await open();
    const [p1, p2, p3] = [await append(1), await append(2), await append(3)];
    await ledger.record([p1]);
    await ledger.record([p3]);
    expect([...(await ledger.recorded([p1, p2, p3]))]).toEqual([p1, p3]);
    expect((await ledger.recorded([])).size).toBe(0);
  });

  it('does not count what was recorded for the log of a database since dropped', async () => {
    await connection.client.db!.dropDatabase();
    const first = await open();
    await first.ledger.record([await first.append(1), await first.append(2)]);
    expect((await first.ledger.advance(0)).through).toBeGreaterThan(0);
    await connection.client.db!.dropDatabase();
    const second = await open();
    await second.append(1);
    expect((await second.ledger.advance(0)).through).toBe(0);
  });
});
