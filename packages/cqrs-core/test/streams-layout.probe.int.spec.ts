import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { runProbes } from '../src';
import { streamsLayoutProbe } from '../src/redis';

// Processes of one deployment with different Redis Streams layouts lose messages silently;
// the probe makes readiness fail instead, naming both layouts.
describe('streamsLayoutProbe on a real Redis', () => {
  const ns = testNamespace('layout');
  const client = new Redis(ns.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });

  beforeAll(() => client.connect());
  afterAll(async () => {
    const keys = await client.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  it('passes for every process with the layout the first one recorded, fails for another one', async () => {
    const keyPrefix = ns.keyPrefix;
    const first = streamsLayoutProbe(client, { keyPrefix, partitions: 8, priorities: false });
    const same = streamsLayoutProbe(client, { keyPrefix, partitions: 8, priorities: false });
    const other = streamsLayoutProbe(client, {
      keyPrefix,
      partitions: 2,
      priorities: false,
      hint: 'Set REDIS_STREAMS_PARTITIONS alike.',
    });
    const [a, b, c] = await runProbes([first, same, other]);
    expect([a?.healthy, b?.healthy]).toEqual([true, true]);
    expect(c).toMatchObject({ name: 'streams-layout', healthy: false });
    expect(c?.error).toBe(
      'this process uses partitions=2 priorities=false but the streams of this deployment use ' +
        `partitions=8 priorities=false (Redis key "${keyPrefix}causeway:streams-layout"): ` +
        'messages sent to a partition nobody reads are never handled. Set REDIS_STREAMS_PARTITIONS alike.',
    );
    expect(other.critical).toBe(true);
  });

  it('keeps deployments on other prefixes apart', async () => {
    const mine = streamsLayoutProbe(client, {
      keyPrefix: `${ns.keyPrefix}a:`,
      partitions: 4,
      priorities: true,
    });
    const theirs = streamsLayoutProbe(client, {
      keyPrefix: `${ns.keyPrefix}b:`,
      partitions: 16,
      priorities: false,
    });
    await expect(mine.check()).resolves.toBeUndefined();
    await expect(theirs.check()).resolves.toBeUndefined();
  });
});
