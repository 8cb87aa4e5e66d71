import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import mongoose from 'mongoose';
import { serverAddress, type ServerName } from '../servers/server.catalog';
import { type TestNamespace } from './test-namespace';

/**
 * Removes what one test file left on the servers under its namespace, so that running the tests
 * again and again on a developer's machine does not pile up databases, keys and topics:
 * - MongoDB: the namespace's database (`ns.database`);
 * - Redis: every key whose name contains `ns.id` — the file's `keyPrefix` and the keys of apps
 *   started with `TOPIC_PREFIX=ns.id` (streams, dedup keys, statuses, read models);
 * - Kafka: every topic whose name contains `ns.id`.
 *
 * Call it in `afterAll`, after the processes that used them have stopped (dropping a database
 * while a client writes to it can corrupt it on FerretDB, ADR 006). Only `servers` are touched.
 * A failure is reported on stderr, never thrown: the tests already ran and said what they had to.
 */
export async function removeNamespaceData(
  ns: TestNamespace,
  servers: readonly ServerName[] = ['mongodb', 'redis', 'kafka'],
): Promise<void> {
  const steps: Record<ServerName, () => Promise<void>> = {
    mongodb: () => dropDatabase(ns),
    redis: () => unlinkKeys(ns.redisUrl, `*${ns.id}*`),
    kafka: () => deleteTopics(ns.kafkaBrokers, ns.id),
  };
  for (const server of servers) {
    try {
      await steps[server]();
    } catch (error) {
      process.stderr.write(
        `testkit: could not remove ${server} data of namespace ${ns.id} (${serverAddress(server)}): ${(error as Error).message}\n`,
      );
    }
  }
}

async function dropDatabase(ns: TestNamespace): Promise<void> {
  const connection = await mongoose
    .createConnection(ns.mongoUri(), { serverSelectionTimeoutMS: 5_000 })
    .asPromise();
  try {
    await connection.dropDatabase();
  } finally {
    await connection.close();
  }
}

/** SCAN in batches, never KEYS (which blocks the server). */
async function unlinkKeys(url: string, match: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1_000);
      if (keys.length > 0) await client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

async function deleteTopics(brokers: string[], id: string): Promise<void> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.includes(id));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}
