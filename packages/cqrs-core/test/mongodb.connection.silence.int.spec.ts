import { StallingProxy, testNamespace } from '@causeway/testkit';
import { mongoConnection } from '../src/mongodb';

// The driver's connections to MongoDB (FerretDB here) after their network path died without a
// reset while the server is fine (the proxy stalls the connections open at the time and lets
// new ones through). An operation waiting on such a connection gets no error: until session 31
// it waited 40 s (a heartbeat, then the driver's 30 s check timeout) before the driver gave up.
describe('mongoConnection after its connections went silent', () => {
  const ns = testNamespace('mongosilence');
  let proxy: StallingProxy;
  let uri: string;

  beforeAll(async () => {
    ({ proxy, url: uri } = await StallingProxy.inFrontOf(ns.mongoUri(), 27017));
  });
  afterAll(async () => {
    proxy.heal();
    await proxy.close();
  });

  it('an operation waiting on a dead connection fails within a heartbeat and the silence timeout, and the next one works', async () => {
    const connection = mongoConnection({
      uri,
      silenceTimeoutMs: 2_000,
      // A short heartbeat keeps the test short; the silence timeout is what is tested.
      options: { heartbeatFrequencyMS: 1_000 },
    });
    try {
      await connection.open();
      const things = connection.client.db!.collection('things');
      await things.insertOne({ n: 1 });
      proxy.stall('open');
      const stalledAt = Date.now();
      await expect(things.insertOne({ n: 2 })).rejects.toThrow(/interrupted|timed out/);
      const waited = Date.now() - stalledAt;
      expect(waited).toBeLessThan(6_000);
      // Then new connections, through the same path, which works for them.
      await things.insertOne({ n: 3 });
      await expect(connection.check()).resolves.toBeUndefined();
      expect((await things.find().toArray()).map((doc) => doc.n as number).sort()).toContain(3);
    } finally {
      proxy.heal(); // connections still stalled could not end
      await connection.close();
    }
  }, 30_000);
});
