import path from 'node:path';
import { type Envelope, MessageFactory } from '@causeway/cqrs-core';
import { type ServiceProcess, startServiceProcess, type TestNamespace } from '@causeway/testkit';

/** The events' own timestamp (2027): what a move says of itself, not when it was stored. */
export const T0 = 1_800_000_000_000;

const factory = new MessageFactory();
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };

/** A TrainerMovedEvent to (x, y), walking north at 100 since T0 when `moving`. */
export const moved = (trainerId: string, x: number, y: number, moving = false): Envelope =>
  factory.event('TrainerMovedEvent', {
    trainerId,
    position: { x, y },
    movement: moving
      ? { isMoving: true, direction: { x: 0, y: 1 }, speed: 100, startedAt: T0 }
      : still,
    timestamp: T0,
  });

export const joined = (trainerId: string, groupId: string): Envelope =>
  factory.event('TrainerJoinedGroupEvent', { trainerId, groupId, timestamp: T0 });

/** Polls `probe` every 100 ms until it answers something, for at most 60 s. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * projection-worker (the built app) as a real process on `ns`'s servers and topics
 * (TOPIC_PREFIX is `ns.id`), once live: not awaited ready, which a test of readiness watches
 * for itself. `env` adds settings, or overrides these.
 */
export function startProjectionWorker(
  ns: TestNamespace,
  instanceId: string,
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  return startServiceProcess({
    appDir: path.join(__dirname, '..'),
    env: {
      REDIS_URL: ns.redisUrl,
      KAFKA_BROKERS: ns.kafkaBrokers.join(','),
      MONGODB_URI: ns.mongoUri(),
      ADMIN_TOKEN: 'admin-token-0123456789',
      TOPIC_PREFIX: ns.id,
      INSTANCE_ID: instanceId,
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
}
