import { randomBytes } from 'node:crypto';
import {
  type EventStore,
  EventSourcedRepository,
  type SnapshotStore,
  type StateModel,
} from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore, MongoSnapshotStore } from '@causeway/cqrs-core/mongodb';
import { withDatabase } from '@causeway/testkit';
import { redisConnection, RedisEventStore, RedisSnapshotStore } from '@causeway/cqrs-core/redis';
import Redis from 'ioredis';
import { MongoClient } from 'mongodb';
import { deleteKeys } from './event-store.bench';
import { sampleEvents } from './fixtures';
import { type Servers } from './servers';
import { elapsedMs, latencyTarget, percentiles, progress, type Row, Report } from './stats';

/**
 * Issue 3: load time of a 10 000-event aggregate from the MongoDB store, without a snapshot and
 * with one every 100 events, against the raw driver reading the same documents.
 */
const EVENTS = 10_000;
/** Events per append while building the stream (1 000 commit documents). */
const EVENTS_PER_APPEND = 10;
const SNAPSHOT_EVERY = 100;
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
/** FerretDB scans the commits collection for every stream read (~1-2 s here), so it gets few loads. */
const LOADS = {
  mongodb: {
    full: Math.max(3, Math.round(5 * SCALE)),
    snapshot: Math.max(10, Math.round(30 * SCALE)),
  },
  redis: {
    full: Math.max(10, Math.round(30 * SCALE)),
    snapshot: Math.max(100, Math.round(500 * SCALE)),
  },
};

interface TrainerState {
  steps: number;
  x: number;
  y: number;
  zone: string;
  zones: string[];
}

interface MovedData {
  step: number;
  to: { x: number; y: number; zone: string };
}

/** A small state like the reference system's trainer: position, step count, zones seen. */
const model: StateModel<TrainerState, { type: string; data: unknown }> = {
  initialState: () => ({ steps: 0, x: 0, y: 0, zone: '', zones: [] }),
  evolve: (state, events) => {
    let next = state;
    for (const event of events) {
      const { to } = event.data as MovedData;
      next = {
        steps: next.steps + 1,
        x: to.x,
        y: to.y,
        zone: to.zone,
        zones: next.zones.includes(to.zone) ? next.zones : [...next.zones, to.zone],
      };
    }
    return next;
  },
};

/** One backend under test: the store, its snapshot store, and the raw reads of the same data. */
interface Backend {
  name: 'mongodb' | 'redis';
  title: string;
  eventStore: EventStore;
  snapshotStore: SnapshotStore;
  /** Raw driver: every document / entry of the stream. */
  rawFull(streamId: string): Promise<unknown>;
  /** Raw driver: the snapshot (where stored on the server) and the events after it. */
  rawFromSnapshot(streamId: string, snapshotVersion: number): Promise<unknown>;
  /** The number of events in a raw reply, where the backend can tell: checked once before timing. */
  rawEventCount?(reply: unknown, fromSnapshot: boolean): number;
  dispose(): Promise<void>;
}

async function mongoBackend(servers: Servers): Promise<Backend> {
  const database = `bench_load_${randomBytes(4).toString('hex')}`;
  const uri = withDatabase(servers.mongoUri, database);
  const connection = mongoConnection({ uri, name: 'bench-load' });
  const raw = new MongoClient(uri, { maxPoolSize: 4 });
  await connection.open();
  await raw.connect();
  const eventStore = new MongoEventStore({ connection: connection.client });
  await eventStore.init();
  const snapshotStore = new MongoSnapshotStore({ connection: connection.client });
  await snapshotStore.init();
  const db = raw.db(database);
  const commits = db.collection('events_commits');
  const streams = db.collection<{ _id: string }>('events_streams');
  return {
    name: 'mongodb',
    title:
      'MongoDB (FerretDB) event store + MongoDB snapshot store vs raw mongodb find of the same documents',
    eventStore,
    snapshotStore,
    async rawFull(streamId) {
      await streams.findOne({ _id: streamId });
      return commits.find({ streamId }).sort({ firstVersion: 1 }).toArray();
    },
    async rawFromSnapshot(streamId, snapshotVersion) {
      await db
        .collection('snapshots')
        .findOne({ streamId, schemaVersion: 1 }, { sort: { version: -1 } });
      await streams.findOne({ _id: streamId });
      return commits
        .find({ streamId, lastVersion: { $gte: snapshotVersion + 1 } })
        .sort({ lastVersion: 1 })
        .toArray();
    },
    async dispose() {
      await db.dropDatabase().catch(() => undefined);
      await raw.close();
      await connection.close();
    },
  };
}

/**
 * The raw side's Redis reads, one script per round trip as the store makes them: the store loads
 * a snapshot with one script (its LOAD: the snapshot index, then meta and payload of the newest)
 * and reads the events with another (its READ_STREAM: the index entry holding the first version
 * wanted, the entries from there, HMGETs of the records in chunks of 1 000 positions), so a load
 * from a snapshot is 2 round trips and a full load 1. These scripts issue the same commands on
 * the same keys without the store's checks (schema version, count, direction, position pairs):
 * what is left between the two sides is the store's own work, not a difference in round trips.
 */
const RAW_SNAPSHOT_READ = `local member = redis.call('ZREVRANGE', KEYS[1], 0, 0)[1]
if not member then return nil end
local found = redis.call('HMGET', KEYS[2], member, member .. ':state')
return { member, found[1], found[2] }`;
const RAW_STREAM_READ = `local low = '-inf'
local wanted = 0
if ARGV[1] ~= '' then
  wanted = tonumber(ARGV[1])
  low = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, 1)[2] or '-inf'
end
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], low, '+inf', 'WITHSCORES')
local records = {}
local positions = {}
local function flush()
  local found = redis.call('HMGET', KEYS[2], unpack(positions))
  for k = 1, #found do records[#records + 1] = found[k] end
  positions = {}
end
for i = 1, #entries, 2 do
  local first, count = string.match(entries[i], '^(%d+):(%d+)$')
  first = tonumber(first)
  local version = tonumber(entries[i + 1])
  for k = math.max(0, wanted - version), tonumber(count) - 1 do
    positions[#positions + 1] = first + k
    if #positions == 1000 then flush() end
  end
end
if #positions > 0 then flush() end
return records`;

/** ioredis's defineCommand: EVALSHA, EVAL when Redis does not know the script (as RedisScript). */
type RawScripts = Redis & {
  rawSnapshotReadBuffer(index: string, data: string): Promise<Buffer[] | null>;
  rawStreamRead(stream: string, events: string, from: string | number): Promise<string[]>;
};

async function redisBackend(servers: Servers): Promise<Backend> {
  const prefix = `bench:load:${randomBytes(4).toString('hex')}:`;
  const connection = redisConnection({ url: servers.redisUrl, name: 'bench-load' });
  const raw = new Redis(servers.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  }) as RawScripts;
  raw.defineCommand('rawSnapshotRead', { numberOfKeys: 2, lua: RAW_SNAPSHOT_READ });
  raw.defineCommand('rawStreamRead', { numberOfKeys: 2, lua: RAW_STREAM_READ });
  await connection.open();
  await raw.connect();
  const eventStore = new RedisEventStore({ client: connection.client, keyPrefix: prefix });
  const snapshots = `${prefix}snap:`;
  await eventStore.init();
  // The stream index holds one entry per append: score = first version, member =
  // `<first position>:<count>`. One round trip, as the store's READ_STREAM.
  const read = (streamId: string, from: number | '') =>
    raw.rawStreamRead(`${prefix}s:${streamId}`, `${prefix}events`, from);
  return {
    name: 'redis',
    title:
      'Redis event store + Redis snapshot store vs raw ioredis scripts making the same reads in as many round trips (ZREVRANGE + HMGET of the snapshot; ZREVRANGEBYSCORE, ZRANGEBYSCORE + HMGET of the events)',
    eventStore,
    snapshotStore: new RedisSnapshotStore({ client: connection.client, keyPrefix: snapshots }),
    rawFull: (streamId) => read(streamId, ''),
    // The snapshot's reads (its index, then its meta and payload), not decoded, then the events
    // after it: two round trips, as the store's.
    async rawFromSnapshot(streamId, snapshotVersion) {
      const snapshot = await raw.rawSnapshotReadBuffer(
        `${snapshots}i:${streamId}`,
        `${snapshots}d:${streamId}`,
      );
      return [snapshot, await read(streamId, snapshotVersion + 1)];
    },
    rawEventCount: (reply, fromSnapshot) =>
      (fromSnapshot ? (reply as [unknown, unknown[]])[1] : (reply as unknown[])).length,
    async dispose() {
      await deleteKeys(raw, prefix);
      raw.disconnect();
      await connection.close();
    },
  };
}

async function measureBackend(backend: Backend, report: Report): Promise<void> {
  const { eventStore, snapshotStore } = backend;
  await snapshotStore.init();
  const streamId = `trainer-${randomBytes(3).toString('hex')}`;
  progress(
    `aggregate-load ${backend.name}: writing ${EVENTS} events in appends of ${EVENTS_PER_APPEND}`,
  );
  for (let v = 0; v < EVENTS; v += EVENTS_PER_APPEND) {
    await eventStore.append(streamId, sampleEvents(streamId, v, EVENTS_PER_APPEND), {
      expectedVersion: v === 0 ? 'no-stream' : v,
    });
  }
  const plain = new EventSourcedRepository(model, { eventStore, aggregateType: 'Trainer' });
  const snapshotted = new EventSourcedRepository(model, {
    eventStore,
    aggregateType: 'Trainer',
    snapshots: { store: snapshotStore, policy: () => false, schemaVersion: 1 },
  });
  // A snapshot every 100 events: the worst case replays 99 events after the latest one.
  const snapshotVersion = EVENTS - SNAPSHOT_EVERY + 1;
  const prefix = await eventStore.readStream(streamId, { toVersion: snapshotVersion });
  await snapshotStore.save({
    streamId,
    version: snapshotVersion,
    schemaVersion: 1,
    state: model.evolve(model.initialState(streamId), prefix),
    createdAt: new Date().toISOString(),
    aggregateType: 'Trainer',
  });
  const check = async (repository: EventSourcedRepository<TrainerState>, replayed: number) => {
    const loaded = await repository.load(streamId);
    if (
      loaded.version !== EVENTS ||
      loaded.state.steps !== EVENTS ||
      loaded.replayedEvents !== replayed
    )
      throw new Error(
        `load returned version ${loaded.version}, ${loaded.state.steps} steps, ${loaded.replayedEvents} replayed`,
      );
  };
  await check(plain, EVENTS);
  await check(snapshotted, SNAPSHOT_EVERY - 1);
  // The raw side reads as many events as the store replays (a baseline reading less would flatter it).
  if (backend.rawEventCount) {
    const full = backend.rawEventCount(await backend.rawFull(streamId), false);
    const after = backend.rawEventCount(
      await backend.rawFromSnapshot(streamId, snapshotVersion),
      true,
    );
    if (full !== EVENTS || after !== SNAPSHOT_EVERY - 1)
      throw new Error(
        `the raw reads returned ${full} and ${after} events, not ${EVENTS} and ${SNAPSHOT_EVERY - 1}`,
      );
  }

  /** Alternates raw and causeway loads so that drift and noise hit both alike. */
  const sample = async (
    loads: number,
    ours: () => Promise<unknown>,
    baseline: () => Promise<unknown>,
  ) => {
    for (let i = 0; i < 2; i++) {
      await baseline();
      await ours();
    }
    const oursMs: number[] = [];
    const rawMs: number[] = [];
    for (let i = 0; i < loads; i++) {
      let started = process.hrtime.bigint();
      await baseline();
      rawMs.push(elapsedMs(started));
      started = process.hrtime.bigint();
      await ours();
      oursMs.push(elapsedMs(started));
    }
    return { ours: percentiles(oursMs), raw: percentiles(rawMs) };
  };
  const loads = LOADS[backend.name];
  progress(`aggregate-load ${backend.name}: ${loads.full} full replays`);
  const full = await sample(
    loads.full,
    () => plain.load(streamId),
    () => backend.rawFull(streamId),
  );
  progress(`aggregate-load ${backend.name}: ${loads.snapshot} loads from a snapshot`);
  const fromSnapshot = await sample(
    loads.snapshot,
    () => snapshotted.load(streamId),
    () => backend.rawFromSnapshot(streamId, snapshotVersion),
  );

  const ms = (n: number) => `${n.toFixed(2)} ms`;
  const rows: Row[] = [];
  const cases = [
    [`no snapshot (${loads.full} loads)`, full, undefined],
    [
      `snapshot every ${SNAPSHOT_EVERY}, ${SNAPSHOT_EVERY - 1} replayed (${loads.snapshot} loads)`,
      fromSnapshot,
      5,
    ],
  ] as const;
  for (const [label, result, target] of cases) {
    for (const q of ['p50', 'p95', 'p99'] as const) {
      rows.push({
        benchmark: `load ${EVENTS.toLocaleString('en-US')} events, ${label}, ${q}`,
        causeway: ms(result.ours[q]),
        raw: ms(result.raw[q]),
        // Time: lower is better, so the ratio is raw / causeway (1 = as fast as the driver).
        ratio: Math.round((result.raw[q] / result.ours[q]) * 100) / 100,
        ...(target !== undefined &&
          q === 'p99' && { target: latencyTarget('p99', result.ours[q], target) }),
      });
    }
  }
  report.table(`Aggregate load: ${backend.title} (ratio = raw time / causeway time)`, rows);
}

export async function aggregateLoadBench(servers: Servers): Promise<Report> {
  const report = new Report('aggregate-load');
  for (const open of [mongoBackend, redisBackend]) {
    const backend = await open(servers);
    try {
      await measureBackend(backend, report);
    } finally {
      await backend.dispose();
    }
  }
  return report;
}
