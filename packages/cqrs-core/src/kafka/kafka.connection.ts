import { Kafka, logLevel, type Admin, type KafkaConfig } from 'kafkajs';
import { type Registry } from 'prom-client';
import { type ManagedConnection } from '../connections/managed-connection.port';
import { connectionMetrics } from '../metrics/connection.metrics';
import { shownValue } from '../config/shown-value';
import { registerKafkaCodecs } from './kafka.codecs';
import { hasErrorType } from './kafka.error-causes';

export interface KafkaConnectionOptions {
  brokers: string[];
  /**
   * Where `brokers` came from, as an operator knows it — the setting, e.g. `KAFKA_BROKERS` —, named in
   * the error when the server cannot be reached. Default `kafkaConnection options.brokers`.
   */
  source?: string;
  clientId: string;
  /**
   * Name in health and metrics. Default `kafka`. A second connection of one name in one metrics
   * registry is `kafka#2` (#3 …) while the first is open: give each its own. close() removes its
   * series and gives the name back.
   */
  name?: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  registry?: Registry;
  /** Extra kafkajs options; the ones above win. */
  config?: Partial<KafkaConfig>;
}

export interface KafkaClient {
  kafka: Kafka;
  /** A connected admin client, shared; used by the health probe and topic management. */
  admin: Admin;
  /** The brokers it was given (kafkaConnection sets it), named in errors of failed connects. */
  brokers?: readonly string[];
}

/**
 * Checks a broker list before any network I/O: a non-empty array of `host:port` entries (a host
 * name or an IPv4 address; port 1–65535), as kafkajs reads them (it splits at ':', so no IPv6
 * literals). kafkajs itself takes anything and fails seconds later, on connect, without naming
 * the setting ("Port should be >= 0 … NaN").
 * @throws TypeError naming `brokers` and the first bad entry
 */
export function checkKafkaBrokers(brokers: unknown): asserts brokers is string[] {
  if (!Array.isArray(brokers) || brokers.length === 0)
    throw new TypeError(
      `kafkaConnection: options.brokers must be a non-empty array of "host:port" entries, got ${JSON.stringify(brokers)}`,
    );
  for (const broker of brokers as unknown[]) {
    const match = typeof broker === 'string' ? /^([A-Za-z0-9._-]+):(\d{1,5})$/.exec(broker) : null;
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65_535) {
      const hint =
        typeof broker === 'string' && broker.includes(',')
          ? ' (split a comma-separated list into one entry per broker)'
          : '';
      throw new TypeError(
        `kafkaConnection: options.brokers entry ${JSON.stringify(broker)} is not "host:port" (port 1-65535)${hint}`,
      );
    }
  }
}

/**
 * One kafkajs client per process. kafkajs is unmaintained upstream; keeping it behind this
 * seam (and the transport ports) lets us swap the client without touching the apps.
 * Registers the snappy, lz4 and zstd decoders kafkajs lacks (registerKafkaCodecs), once.
 * @throws TypeError naming `brokers` and the bad entry when the broker list is not `host:port`s
 */
export function kafkaConnection(options: KafkaConnectionOptions): ManagedConnection<KafkaClient> {
  checkKafkaBrokers(options?.brokers);
  registerKafkaCodecs();
  // Unique in the registry: a second connection of one name is `<name>#2` (connection). Released
  // at close, with its series.
  const metrics = connectionMetrics(options.registry).connection(options.name ?? 'kafka');
  const name = metrics.name;
  const kafka = new Kafka({
    logLevel: logLevel.NOTHING,
    ...options.config,
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 5_000, ...options.config?.retry },
  });
  const admin = healingAdmin(kafka);
  // The gauge follows what a request to a broker answered, not kafkajs's CONNECT/DISCONNECT
  // events: CONNECT fires once admin.connect() returns even when no broker answered, and
  // DISCONNECT only on an explicit disconnect, so the gauge would say 1 through an outage.
  const answered = async (request: () => Promise<unknown>) => {
    try {
      await request();
      metrics.up(true);
    } catch (error) {
      metrics.up(false);
      throw error;
    }
  };
  // No series until open() is called (as Redis and MongoDB): a connection built but not yet
  // opened is not down, and a 0 would set off the alert on `causeway_connection_up == 0`.
  let opened = false;
  return {
    name,
    client: { kafka, admin, brokers: [...options.brokers] },
    target: options.brokers.join(','),
    async open() {
      try {
        await answered(async () => {
          await admin.connect();
          opened = true;
          await admin.listTopics();
        });
      } catch (error) {
        // kafkajs says "Connection error: connect ECONNREFUSED …": name the brokers and the
        // setting they came from; keep its error as the cause.
        throw new Error(
          `cannot connect to Kafka at ${options.brokers.join(',')} ` +
            `(${options.source ?? 'kafkaConnection options.brokers'}): ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    async check() {
      // Before open() (or after close()) there is nothing to report: the gauge is left alone.
      if (!opened) throw new Error('not connected');
      await answered(() => admin.listTopics());
    },
    async close() {
      opened = false;
      // Its series leave now: a health check still under way reports nothing when it ends.
      metrics.release();
      await admin.disconnect();
    },
  };
}

/**
 * Checks the client a Kafka publisher or subscriber is given: kafkaConnection(...).client, or
 * an object with a kafkajs `kafka` and a connected `admin`. Anything else failed with
 * "Cannot read properties of undefined (reading 'admin')" when built, or at the first send.
 * @throws TypeError naming the owner and what was given
 */
export function checkKafkaClient(owner: string, client: unknown): void {
  const usable =
    typeof client === 'object' &&
    client !== null &&
    typeof (client as KafkaClient).kafka?.producer === 'function' &&
    typeof (client as KafkaClient).admin?.createTopics === 'function';
  if (usable) return;
  const connection =
    typeof client === 'object' &&
    client !== null &&
    typeof (client as { client?: KafkaClient }).client?.kafka?.producer === 'function';
  throw new TypeError(
    `${owner}: its first argument must be a Kafka client (kafkaConnection(...).client: { kafka, admin }), got ${
      connection
        ? 'a connection: pass its .client'
        : typeof client === 'object' && client !== null
          ? 'another object'
          : shownValue(client)
    }`,
  );
}

/** The topics an admin call names (kafkajs then keeps them in its metadata refreshes). */
function topicsNamed(args: readonly unknown[]): string[] {
  const named: string[] = [];
  for (const arg of args) {
    if (typeof arg === 'string') named.push(arg);
    else if (typeof arg === 'object' && arg !== null) {
      const { topic, topics } = arg as { topic?: unknown; topics?: unknown };
      if (typeof topic === 'string') named.push(topic);
      if (Array.isArray(topics))
        named.push(...topics.filter((entry): entry is string => typeof entry === 'string'));
    }
  }
  return named;
}

type AdminCall = (...args: unknown[]) => Promise<unknown>;

/** Admin methods that neither talk to a broker nor return a promise. */
const LOCAL = new Set<PropertyKey>(['on', 'logger', 'events', 'connect', 'disconnect']);

/**
 * The shared admin client, which survives a topic deleted by someone else. kafkajs's admin keeps
 * every topic it was asked about (offsets, watermarks, metadata: fetchOffsets, fetchTopicOffsets,
 * fetchTopicMetadata, setOffsets) and names all of them in each metadata refresh; once an
 * operator deleted one (kafka-topics.sh, another client: kafkajs forgets only topics it deleted
 * itself), every refresh failed with UNKNOWN_TOPIC_OR_PARTITION — no topic could be created, no
 * lag or attempt marker read, for any topic, until the process restarted (session 47). So when a
 * call fails with UNKNOWN_TOPIC_OR_PARTITION and a topic this admin was asked about is no longer
 * listed, the admin is replaced by a new one (which knows no topic yet; the old one disconnects
 * once its calls are done) and the call is made once more on it. A call about a topic that does
 * not exist fails as before.
 */
function healingAdmin(kafka: Kafka): Admin {
  let current = kafka.admin();
  let connected = false;
  /** Topics the current admin was asked about, which kafkajs keeps in its refreshes. */
  let met = new Set<string>();
  const busy = new Map<Admin, number>();
  const retired = new Set<Admin>();
  let replacing: Promise<void> | undefined;

  const release = (admin: Admin) => {
    const left = (busy.get(admin) ?? 1) - 1;
    if (left > 0) return void busy.set(admin, left);
    busy.delete(admin);
    if (retired.delete(admin)) void admin.disconnect().catch(() => undefined);
  };
  const call = async (name: PropertyKey, args: unknown[]): Promise<unknown> => {
    const admin = current;
    busy.set(admin, (busy.get(admin) ?? 0) + 1);
    try {
      const method = (admin as unknown as Record<PropertyKey, AdminCall>)[name]!;
      const result = await method(...args);
      if (admin === current) for (const topic of topicsNamed(args)) met.add(topic);
      return result;
    } finally {
      release(admin);
    }
  };
  /** Whether the admin had met a topic that is gone: then it is replaced (see healingAdmin). */
  const replaceIfStale = async (admin: Admin): Promise<boolean> => {
    if (admin !== current) return true; // replaced meanwhile
    if (met.size === 0) return false;
    const listed = new Set(await admin.listTopics()); // names no kept topic: still answers
    if ([...met].every((topic) => listed.has(topic))) return false;
    if (admin !== current) return true;
    const fresh = kafka.admin();
    replacing = fresh.connect();
    current = fresh;
    met = new Set();
    // The old one disconnects once the calls still under way on it are done.
    if (busy.has(admin)) retired.add(admin);
    else void admin.disconnect().catch(() => undefined);
    await replacing.finally(() => (replacing = undefined));
    return true;
  };
  return new Proxy({} as Admin, {
    get(_, name) {
      if (name === 'connect')
        return async () => {
          await current.connect();
          connected = true;
        };
      if (name === 'disconnect')
        return async () => {
          connected = false;
          await current.disconnect();
        };
      const value = (current as unknown as Record<PropertyKey, unknown>)[name];
      if (typeof value !== 'function' || LOCAL.has(name)) return value;
      return async (...args: unknown[]) => {
        await replacing;
        const admin = current;
        try {
          return await call(name, args);
        } catch (error) {
          if (!connected || !hasErrorType(error, 'UNKNOWN_TOPIC_OR_PARTITION')) throw error;
          const replaced = await replaceIfStale(admin).catch(() => false);
          if (!replaced) throw error;
          return call(name, args);
        }
      };
    },
  });
}
