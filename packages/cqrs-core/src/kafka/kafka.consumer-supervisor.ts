import { type Consumer } from 'kafkajs';

/**
 * Restarts a kafkajs consumer that crashed for good. kafkajs restarts a crashed consumer by
 * itself only when the cause is retriable; some causes met while a broker restarts are not
 * (KafkaJSGroupCoordinatorNotFound while the coordinator loads its group metadata), and the
 * consumer would then stay stopped — silently, with its subscription looking alive.
 *
 * The restart runs `start` (connect + run again; the consumer keeps its topics) with backoff,
 * until it holds or stop() is called. A consumer that crashes again while starting emits
 * another crash, which schedules the next try.
 */
export class ConsumerSupervisor {
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private delayMs: number;
  private stopped = false;

  constructor(
    consumer: Consumer,
    private readonly start: () => Promise<void>,
    private readonly minDelayMs = 500,
    private readonly maxDelayMs = 5_000,
  ) {
    this.delayMs = minDelayMs;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.schedule();
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.delayMs = this.minDelayMs;
    });
  }

  /** No more restarts; resolves once a restart in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.starting?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.starting = this.start()
        .catch(() => this.schedule()) // connect failed before kafkajs could report a crash
        .finally(() => {
          this.starting = undefined;
        });
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
  }
}
