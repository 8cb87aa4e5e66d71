import { randomBytes } from 'node:crypto';
import { serverAddress } from '../servers/server.catalog';

/**
 * Names owned by one test file, so that files can run in parallel against the same servers
 * without seeing each other's data: a database, a Redis key prefix and Kafka topic names.
 */
export interface TestNamespace {
  /** Short unique id, safe in database, key and topic names. */
  readonly id: string;
  /** `<base>_<id>`. */
  name(base: string): string;
  /** MONGODB_URI with its database replaced by one of this namespace. */
  mongoUri(): string;
  /** The database name that mongoUri() points at. */
  readonly database: string;
  /** A Redis key prefix, e.g. `t:1a2b3c:`. */
  readonly keyPrefix: string;
  /** A Kafka topic name, e.g. `t.1a2b3c.orders`. */
  topic(base: string): string;
  readonly redisUrl: string;
  readonly kafkaBrokers: string[];
}

export function testNamespace(label = 't'): TestNamespace {
  const slug =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '')
      .slice(0, 12) || 't';
  const id = `${slug}${randomBytes(4).toString('hex')}`;
  const database = `t_${id}`;
  return {
    id,
    database,
    keyPrefix: `t:${id}:`,
    name: (base) => `${base}_${id}`,
    topic: (base) => `t.${id}.${base}`,
    mongoUri: () => withDatabase(serverAddress('mongodb'), database),
    get redisUrl() {
      return serverAddress('redis');
    },
    get kafkaBrokers() {
      return serverAddress('kafka')
        .split(',')
        .map((broker) => broker.trim());
    },
  };
}

/** Replaces the database path of a MongoDB connection string, keeping credentials and options. */
export function withDatabase(uri: string, database: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!match) throw new Error(`MONGODB_URI is not a MongoDB connection string: ${uri}`);
  return `${match[1]}/${database}${match[2] ?? ''}`;
}
