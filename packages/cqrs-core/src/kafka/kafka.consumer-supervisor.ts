import { type Consumer } from 'kafkajs';

/** What the supervisor tells its owner. */
export interface ConsumerSupervisorOptions {
  /**
   * Called for every crash of the consumer (kafkajs's CRASH event), whether kafkajs restarts it
   * itself (retriable causes) or the supervisor does, with the number of crashes in a row since
   * the consumer last made progress (1 for the first). Must not throw.
   */
  onCrash(error: Error, consecutive: number): void;
  /** First restart delay; doubled after each crash without progress. Default 500 ms. */
  minDelayMs?: number;
  /** Longest restart delay. Default 5000 ms. */
  maxDelayMs?: number;
}

/**
 * Restarts a kafkajs consumer that crashed. kafkajs restarts a crashed consumer by itself only
 * when the cause is retriable; some causes met while a broker restarts are not
 * (KafkaJSGroupCoordinatorNotFound while the coordinator loads its group metadata), and the
 * consumer would then stay stopped — silently, with its subscription looking alive. Its own
 * restarts cannot be stopped safely either (a close() overlapping the crash let it come back),
 * so the consumer is built with `retry.restartOnFailure` answering false and every restart is
 * this supervisor's: a crash whose payload says `restart: true` is left to kafkajs.
 *
 * The restart runs `start` (connect + run again; the consumer keeps its topics) with backoff,
 * until it holds or stop() is called. A consumer that crashes again while starting emits
 * another crash, which schedules the next try.
 *
 * Every crash is reported (`onCrash`), counted in a row until the owner calls progressed(): a
 * batch was handled or a fetch came back empty. Joining the group is no progress — a consumer
 * that joins and then fails every fetch (a record batch it cannot decode) would otherwise be
 * restarted every `minDelayMs` for good, rebalancing its group each time; its backoff grows to
 * `maxDelayMs` instead, and `consecutiveCrashes` lets a health probe report it.
 */
export class ConsumerSupervisor {
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private delayMs: number;
  private stopped = false;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private crashes = 0;
  private last: Error | undefined;

  constructor(
    consumer: Consumer,
    private readonly start: () => Promise<void>,
    private readonly options: ConsumerSupervisorOptions,
  ) {
    this.minDelayMs = options.minDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
    this.delayMs = this.minDelayMs;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.crashes += 1;
      this.last = payload.error;
      this.options.onCrash(payload.error, this.crashes);
      if (!payload.restart) this.schedule();
    });
  }

  /** Crashes since the consumer last made progress (0: it is making progress). */
  get consecutiveCrashes(): number {
    return this.crashes;
  }

  /** The cause of the last crash, while `consecutiveCrashes` > 0. */
  get lastError(): Error | undefined {
    return this.crashes > 0 ? this.last : undefined;
  }

  /** The consumer made progress: the next crash starts a new count and the shortest backoff. */
  progressed(): void {
    this.crashes = 0;
    this.delayMs = this.minDelayMs;
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
