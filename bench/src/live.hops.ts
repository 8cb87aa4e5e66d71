import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import Redis from 'ioredis';
import { MongoClient } from 'mongodb';
import { elapsedMs, type Percentiles, percentiles } from './stats';

/**
 * The raw round trips a move needs on its way from the browser to the first client, each timed
 * alone with the plain client: the HTTP request (to a bare node:http server), one bus hop (a raw
 * XADD picked up by a raw blocking XREAD; the path has three: command, event, notification log)
 * and the event store append (a raw MongoDB insertOne of a ~1 KB document).
 */
export interface RawHops {
  http: Percentiles;
  redisHop: Percentiles;
  mongoInsert: Percentiles;
  /** Every sample, in ms: the raw path's distribution is drawn from them (see rawPath). */
  samples: { http: number[]; redisHop: number[]; mongoInsert: number[] };
}

/**
 * Percentiles of the raw path, HTTP + 3 × bus hop + insert: each of `draws` sums adds one sample
 * drawn at random from each hop's samples (as if the hops were independent). Not the sum of the
 * hops' percentiles: a sum of p99s is the p99 of a path where every hop is at its p99 at once, an
 * upper bound that would flatter our ratio. A fixed seed, so a run's figure is reproducible.
 */
export function rawPath({ samples }: RawHops, draws = 100_000): Percentiles {
  let seed = 0x9e3779b9;
  // mulberry32
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const draw = (from: number[]) => from[Math.floor(random() * from.length)]!;
  const sums = Array.from(
    { length: draws },
    () =>
      draw(samples.http) +
      draw(samples.redisHop) +
      draw(samples.redisHop) +
      draw(samples.redisHop) +
      draw(samples.mongoInsert),
  );
  return percentiles(sums);
}

/** Paced samples (one every `gapMs`), so that each is a lone round trip like a command's. */
async function sample(count: number, gapMs: number, once: () => Promise<number>) {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    samples.push(await once());
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return samples;
}

export async function measureRawHops(
  options: { redisUrl: string; mongoUri: string; prefix: string },
  count: number,
): Promise<RawHops> {
  const body = JSON.stringify({ directionX: 0.6, directionY: 0.8, action: 'start', timestamp: 1 });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ commandId: randomBytes(8).toString('hex'), status: 'accepted' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true });
  const http = await sample(
    count,
    2,
    () =>
      new Promise<number>((resolve, reject) => {
        const started = process.hrtime.bigint();
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/api/trainers/t/move',
            agent,
            headers: { 'content-type': 'application/json', authorization: 'Bearer x'.repeat(30) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(elapsedMs(started)));
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
  );
  agent.destroy();
  server.close();

  const writer = new Redis(options.redisUrl);
  const reader = new Redis(options.redisUrl);
  const key = `${options.prefix}:raw-hop`;
  const message = 'x'.repeat(700);
  await writer.del(key);
  let last = '0-0';
  const redisHop = await sample(count, 2, async () => {
    const read = reader.xread('BLOCK', 5_000, 'STREAMS', key, last);
    // Usually the XREAD is blocked when the entry arrives; if not, it finds it at once (`last`).
    await new Promise((resolve) => setImmediate(resolve));
    const started = process.hrtime.bigint();
    await writer.xadd(key, 'MAXLEN', '~', '1000', '*', 'msg', message);
    const result = await read;
    const entries = result?.[0]?.[1] ?? [];
    last = entries.at(-1)?.[0] ?? last;
    return elapsedMs(started);
  });
  await writer.del(key);
  writer.disconnect();
  reader.disconnect();

  const mongo = await MongoClient.connect(options.mongoUri);
  const collection = mongo.db().collection(`raw_hop_${options.prefix}`);
  const data = 'y'.repeat(900);
  let n = 0;
  const mongoInsert = await sample(count, 2, async () => {
    const started = process.hrtime.bigint();
    await collection.insertOne({ streamId: `trainer-${n}`, version: n++, data });
    return elapsedMs(started);
  });
  await collection.drop().catch(() => undefined);
  await mongo.close();
  return {
    http: percentiles(http),
    redisHop: percentiles(redisHop),
    mongoInsert: percentiles(mongoInsert),
    samples: { http, redisHop, mongoInsert },
  };
}
