import { type EachBatchPayload } from 'kafkajs';
import { attemptMarker } from './kafka.attempts';

interface Position {
  /** The first message of the partition not yet acknowledged. */
  readonly offset: string;
  /** > 0: delivery number `attempt` of the message at `offset` has started (the marker). */
  readonly attempt: number;
}

/**
 * The commits of one fetched batch (one partition), sent behind the deliveries instead of
 * between them. `mark()` records the newest position and returns at once; at most one commit
 * is in flight, and after it returns (and a pause of `gapMs` if more is waiting) the newest
 * position recorded meanwhile goes next. So a message handled while the partition is quiet is
 * committed right after its handler (one round trip, not awaited by the next delivery), and
 * under load one commit covers every message handled during the previous round trip + gap —
 * commits no longer throttle consumption.
 *
 * Only acknowledged messages are ever committed: a position is recorded after the handler of
 * the message before it resolved. `flush()` waits until the newest position is committed;
 * the batch calls it before it returns (kafkajs then may hand the partition over: rebalance,
 * close). `abandon()` (kill) stops sending: what is not committed yet is redelivered.
 */
export class BatchCommits {
  private wanted: Position | undefined;
  private sent: Position | undefined;
  private sending: Promise<void> | undefined;
  private failure: unknown;
  private abandoned = false;
  /** While flush() waits: no pauses between commits. */
  private hurry = false;
  private wake: (() => void) | undefined;

  /** `gapMs`: the pause after a commit before the next one while messages keep coming. */
  constructor(
    private readonly payload: EachBatchPayload,
    private readonly gapMs = 20,
  ) {}

  /** Records the newest position; a commit of it starts now or right after the one in flight. */
  mark(offset: string, attempt: number): void {
    this.wanted = { offset, attempt };
    this.kick();
  }

  /** Waits until every recorded position is committed; throws what a commit threw. */
  async flush(): Promise<void> {
    this.hurry = true;
    this.wake?.();
    try {
      while (this.kick()) await this.sending;
    } finally {
      this.hurry = false;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** A commit kept failing (thrown by flush() too): the batch should stop and rethrow. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  abandon(): void {
    this.abandoned = true;
    this.wake?.();
  }

  /** Starts sending if something is left to send; true while a commit is (now) in flight. */
  private kick(): boolean {
    if (!this.sending && this.pending) {
      this.sending = this.drain().finally(() => {
        this.sending = undefined;
      });
    }
    return this.sending !== undefined;
  }

  private get pending(): boolean {
    return !this.abandoned && this.failure === undefined && this.wanted !== this.sent;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const position = this.wanted!;
        this.sent = position;
        await this.commit(position);
        if (this.pending && !this.hurry) await this.pause();
      }
    } catch (error) {
      if (!this.abandoned) this.failure = error;
    }
  }

  /** Waits `gapMs`, or less if flush() or abandon() wakes it. */
  private pause(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.gapMs);
      this.wake = done;
    });
  }

  /**
   * Retried briefly; a commit that keeps failing is rethrown by the batch into kafkajs, which
   * re-joins or restarts the consumer and fetches again from what is committed (at-least-once).
   */
  private async commit({ offset, attempt }: Position): Promise<void> {
    const { topic, partition } = this.payload.batch;
    const metadata = attempt > 0 ? attemptMarker(attempt) : null;
    for (let retry = 0; ; retry++) {
      try {
        await this.payload.commitOffsetsIfNecessary({
          // kafkajs sends `metadata` (OffsetCommit's field) although its type omits it.
          topics: [
            {
              topic,
              partitions: [
                { partition, offset, metadata } as { partition: number; offset: string },
              ],
            },
          ],
        });
        return;
      } catch (error) {
        if (this.abandoned) return;
        // Not retriable: a stale generation or a lost member; kafkajs re-joins on the rethrow.
        if (retry >= 2 || (error as { retriable?: boolean }).retriable === false) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * (retry + 1)));
      }
    }
  }
}
