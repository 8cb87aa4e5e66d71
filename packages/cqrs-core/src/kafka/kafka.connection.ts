import { Kafka, logLevel, type Admin, type KafkaConfig } from 'kafkajs';
import { type Registry } from 'prom-client';
import { type ManagedConnection } from '../connections/managed-connection.port';
import { connectionMetrics } from '../metrics/connection.metrics';

export interface KafkaConnectionOptions {
  brokers: string[];
  clientId: string;
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
}

/**
 * One kafkajs client per process. kafkajs is unmaintained upstream; keeping it behind this
 * seam (and the transport ports) lets us swap the client without touching the apps.
 */
export function kafkaConnection(options: KafkaConnectionOptions): ManagedConnection<KafkaClient> {
  const name = options.name ?? 'kafka';
  const metrics = connectionMetrics(options.registry);
  const kafka = new Kafka({
    logLevel: logLevel.NOTHING,
    ...options.config,
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 5_000, ...options.config?.retry },
  });
  const admin = kafka.admin();
  admin.on(admin.events.CONNECT, () => metrics.up(name, true));
  admin.on(admin.events.DISCONNECT, () => metrics.up(name, false));
  let opened = false;
  return {
    name,
    client: { kafka, admin },
    target: options.brokers.join(','),
    async open() {
      await admin.connect();
      opened = true;
      await admin.listTopics();
    },
    async check() {
      if (!opened) throw new Error('not connected');
      await admin.listTopics();
    },
    async close() {
      opened = false;
      await admin.disconnect();
    },
  };
}
