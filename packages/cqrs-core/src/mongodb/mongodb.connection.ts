import { shownValue } from '../config/shown-value';
import mongoose, { type Connection, type ConnectOptions } from 'mongoose';
import { type Registry } from 'prom-client';
import { type ManagedConnection } from '../connections/managed-connection.port';
import { checkPositiveInteger, checkUrl } from '../connections/connection-options.check';
import { MAX_TIMER_MS } from '../config/settings.schema';
import { credentialsRemoved, withoutCredentials } from '../connections/connection-target';
import { connectionMetrics } from '../metrics/connection.metrics';

export interface MongoConnectionOptions {
  /**
   * A mongodb:// or mongodb+srv:// URI naming the database (`mongodb://host:27017/mydb`, options
   * may follow: `/mydb?replicaSet=rs0`). Without one the driver would silently use `test`; a URI
   * without a database is accepted only when `options.options.dbName` names it instead.
   */
  uri: string;
  /**
   * Where `uri` came from, as an operator knows it — the setting, e.g. `MONGODB_URI` —, named in
   * the error when the server cannot be reached. Default `mongoConnection options.uri`.
   */
  source?: string;
  /**
   * Name in health and metrics. Default `mongodb`. A second connection of one name in one metrics
   * registry is `mongodb#2` (#3 …) while the first is open: give each its own. close() removes
   * its series and gives the name back.
   */
  name?: string;
  /** Most connections the driver opens to a server; a positive integer. Default 20. */
  maxPoolSize?: number;
  /**
   * How long an operation waits for a server to send it to (also open()'s wait), in
   * milliseconds: a positive integer up to 2 147 483 647. Default 5 000.
   */
  serverSelectionTimeoutMs?: number;
  /**
   * How long the driver's monitor waits for the server's answer to its periodic check (and a
   * new connection for its handshake), the driver's `connectTimeoutMS`. A check unanswered this
   * long marks the server unreachable and interrupts the operations waiting on its connections,
   * which fail (writes are not retried: see `open`) instead of waiting on a connection whose
   * network path died without a reset — the kernel would keep it for 15 minutes to hours. Such
   * a connection is noticed within one heartbeat (10 s) plus this. Default 10 s (the driver's
   * own, 30 s, made it 40 s); 0 turns it off.
   */
  silenceTimeoutMs?: number;
  registry?: Registry;
  options?: ConnectOptions;
}

/** `MongoConnectionOptions.silenceTimeoutMs` when not given. */
const DEFAULT_SILENCE_TIMEOUT_MS = 10_000;

/**
 * One mongoose connection per process (its driver pools sockets and reconnects by itself).
 * Uses only what FerretDB and MongoDB both support: no sessions, change streams or TTL indexes.
 */
export function mongoConnection(options: MongoConnectionOptions): ManagedConnection<Connection> {
  checkUrl(
    'mongoConnection',
    'uri',
    options?.uri,
    /^mongodb(\+srv)?:\/\//,
    'mongodb:// or mongodb+srv://',
  );
  checkDatabase(options.uri, options.options?.dbName);
  checkPositiveInteger('mongoConnection', 'maxPoolSize', options.maxPoolSize);
  checkPositiveInteger(
    'mongoConnection',
    'serverSelectionTimeoutMs',
    options.serverSelectionTimeoutMs,
    MAX_TIMER_MS,
  );
  const silenceTimeout = options.silenceTimeoutMs ?? DEFAULT_SILENCE_TIMEOUT_MS;
  if (!Number.isSafeInteger(silenceTimeout) || silenceTimeout < 0)
    throw new TypeError(
      `mongoConnection: options.silenceTimeoutMs must be a whole number of milliseconds, 0 or more (0: off), got ${shownValue(options.silenceTimeoutMs)}`,
    );
  // Unique in the registry: a second connection of one name is `<name>#2` (connection). Released
  // at close, with its series.
  const metrics = connectionMetrics(options.registry).connection(options.name ?? 'mongodb');
  const name = metrics.name;
  const connection = mongoose.createConnection();
  connection.on('connected', () => metrics.up(true));
  connection.on('disconnected', () => metrics.up(false));
  connection.on('reconnected', () => metrics.reconnect());
  // The driver reports failures on 'error'; they surface through check() and the metrics.
  connection.on('error', () => undefined);
  let opened = false;
  return {
    name,
    client: connection,
    target: withoutCredentials(options.uri),
    async open() {
      try {
        await connection.openUri(options.uri, {
          // The event store's commit log settles an insert of unknown outcome itself; a driver
          // retry after a failover could land past a rolled-back slot (see checkRetryableWrites).
          retryWrites: false,
          connectTimeoutMS: silenceTimeout,
          ...options.options,
          maxPoolSize: options.maxPoolSize ?? 20,
          serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? 5_000,
          autoIndex: true,
        });
      } catch (error) {
        // The driver's MongooseServerSelectionError names neither the setting nor, always, the
        // server: say where (the URI without its credentials) and which setting, keep the cause.
        // The driver may quote the URI whole, password included (a parse error): never shown.
        const reason = credentialsRemoved(
          error instanceof Error ? error.message : String(error),
          options.uri,
        );
        throw new Error(
          `cannot connect to MongoDB at ${withoutCredentials(options.uri)} ` +
            `(${options.source ?? 'mongoConnection options.uri'}): ${reason}`,
          { cause: error },
        );
      }
      opened = true;
      await this.check();
    },
    async check() {
      const db = connection.db;
      if (!opened || !db) throw new Error('not connected');
      const reply = await db.admin().command({ ping: 1 });
      if (reply.ok !== 1) throw new Error(`ping answered ${JSON.stringify(reply)}`);
    },
    async close() {
      opened = false;
      try {
        await connection.close();
      } finally {
        metrics.release();
      }
    },
  };
}

/**
 * A URI without a database path makes the driver use `test`: every store would silently write
 * there. The value is not echoed (it may hold a password).
 * @throws TypeError naming `options.uri` unless the URI (or `options.options.dbName`) names a database
 */
function checkDatabase(uri: string, dbName: unknown): void {
  if (typeof dbName === 'string' && dbName !== '') return;
  if (/^mongodb(\+srv)?:\/\/[^/?#]+\/[^/?#]+/.test(uri)) return;
  throw new TypeError(
    'mongoConnection: options.uri must name a database, e.g. mongodb://host:27017/mydb ' +
      '(options may follow: /mydb?replicaSet=rs0); got a URI without one ' +
      '(or set options.options.dbName)',
  );
}
