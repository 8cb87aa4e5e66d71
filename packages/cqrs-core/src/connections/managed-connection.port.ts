import { type HealthProbe } from '../health/health-probe.port';

/**
 * A connection to a server that one process shares (a client manager): opened once at start-up,
 * reconnecting with backoff on its own, closed once at shutdown. Adapters implement it for
 * MongoDB, Redis and Kafka; the Nest adapter drives open/close from the app lifecycle.
 */
export interface ManagedConnection<Client = unknown> extends HealthProbe {
  /** The driver's client (mongoose Connection, ioredis Redis, kafkajs Kafka). Valid after open(). */
  readonly client: Client;
  /** Where it connects, without credentials (e.g. `redis://10.0.0.5:6379`), for logs. */
  readonly target?: string;
  /**
   * Connects and verifies with one real request. Rejects with the reason when the server cannot
   * be reached; the client may go on reconnecting in the background (Redis does) so that a later
   * open() succeeds, which keeps the process alive: call close() when giving up.
   */
  open(): Promise<void>;
  /** Closes gracefully. Safe to call twice and before open(). */
  close(): Promise<void>;
}
