import {
  type BeforeApplicationShutdown,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type CheckpointStore, type InMemoryEventStore, RetentionJob } from '@causeway/cqrs-core';
import { trainerStreamId } from '@causeway/trainer-service';

/** A reader that must see every event before retention removes it: its checkpoint. */
export interface RetentionReader {
  checkpoints: CheckpointStore;
  name: string;
}

export interface TrainerRetentionOptions {
  store: InMemoryEventStore;
  /** Events kept per trainer stream (EVENT_RETENTION_MAX_COUNT). */
  maxCount: number;
  /** How often a run removes the older ones (EVENT_RETENTION_INTERVAL_MS); 0: never. */
  intervalMs: number;
  /** The outbox forwarder and the read models' catch-up: nothing past them is removed. */
  readers: readonly RetentionReader[];
}

/**
 * The embedded app's retention of trainer events: the in-memory event store otherwise holds
 * every move until the process ends. A RetentionJob keeps the last `maxCount` events of each
 * trainer stream (`trainer-…`), and nothing the readers have not passed (the lowest of their
 * checkpoints, read before each run). `maxCount` is at least SNAPSHOT_EVERY (the settings check):
 * a trainer loads from its latest snapshot and the events after it, which stay. Each run that
 * removed events logs how many, and how many the store still holds.
 */
export class TrainerRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('EventRetention');
  private readonly job: RetentionJob | undefined;

  constructor(options: TrainerRetentionOptions) {
    const { store, maxCount, intervalMs, readers } = options;
    if (intervalMs === 0) return;
    this.job = new RetentionJob({
      store,
      policy: { streamPrefix: trainerStreamId(''), maxCount },
      intervalMs,
      processedUpTo: async () =>
        Math.min(
          ...(await Promise.all(readers.map(({ checkpoints, name }) => checkpoints.load(name)))),
        ),
      onRun: (removed) => {
        if (removed > 0)
          this.logger.log(
            `retention removed ${removed} trainer event(s); the event store holds ${store.stats().events}`,
          );
      },
      onError: (error) =>
        this.logger.warn(`retention run failed: ${(error as Error)?.message ?? String(error)}`),
    });
  }

  onApplicationBootstrap(): void {
    this.job?.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.job?.stop();
  }
}
