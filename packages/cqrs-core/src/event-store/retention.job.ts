import { type EventStore, type RetentionPolicy } from './event-store.port';
import { checkDelayMs, checkRetentionPolicy } from './event-store.rules';
import { callHook } from '../messages/hook.call';
import { shownValue } from '../config/shown-value';

export interface RetentionJobOptions {
  store: EventStore;
  policy: RetentionPolicy;
  /**
   * Where every reader that must see each event has got to, read before each run: the lowest
   * checkpoint of the outbox forwarder (EventForwarder: it publishes what it has not passed) and
   * of the projections, e.g. `async () => Math.min(...(await Promise.all(names.map((n) =>
   * checkpoints.load(n)))))`. The run then removes nothing after it (RetentionPolicy
   * `maxPosition`, the lower of the two when the policy has one too). A failed read, or one that
   * resolves to anything but a non-negative integer or Infinity (no reader: the policy as it is),
   * skips the run (reported through `onError`, naming `processedUpTo` and what it gave).
   * Without it, retention may remove events those readers have not read: they would never be
   * published or projected.
   */
  processedUpTo?: () => Promise<number>;
  /** Default 1 h. A positive number of milliseconds, at most 2 147 483 647 (a timer's longest). */
  intervalMs?: number;
  /** After each run: how many events were removed. */
  onRun?: (removed: number) => void;
  /**
   * A failed run (the store's applyRetention, or `processedUpTo`, threw) is reported here and
   * tried again at the next run. Default: a process warning (`CausewayRetentionWarning`, code
   * `CAUSEWAY_RETENTION_FAILED`) per failed run, naming the policy and the error: a job that
   * fails on every run removes nothing, and the log grows without anyone being told. An
   * onError that throws, or returns a promise that rejects, is warned of the same way, with what
   * it threw.
   */
  onError?: (error: unknown) => void;
}

/**
 * Applies a retention policy periodically (S2-1 cleanup). Runs never overlap; `stop()` waits
 * for the run in progress. Give it `processedUpTo` when an outbox forwarder or projections read
 * the store (docs/adr/005: retention must not remove events the forwarder has not passed).
 * Hazard: retention removes events for good — projections rebuilt from the beginning will not
 * see them, so keep snapshots or read models of what matters.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  /**
   * @throws TypeError naming the option when the policy is outside the port's ranges (the store
   *   would refuse every run) or `intervalMs` is not a positive number a timer can wait
   */
  constructor(private readonly options: RetentionJobOptions) {
    checkRetentionPolicy(options.policy);
    checkDelayMs('intervalMs', options.intervalMs);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs ?? 3_600_000);
    this.timer.unref();
  }

  /** One run now (skipped if one is already in progress); resolves when it finished. */
  async runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const removed = await this.options.store.applyRetention(await this.policy());
        this.options.onRun?.(removed);
      } catch (error) {
        this.report(error);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /**
   * Tells onError, or warns. A hook that fails (throws, or rejects) is warned of with the run's error,
   * never thrown:
   * the timer does not await runOnce, and a rejection nobody handles ends the Node process.
   */
  private report(error: unknown): void {
    const { onError, policy } = this.options;
    if (!onError) return warnOfRetentionFailure(policy, error);
    callHook(
      () => onError(error),
      (reportError) => warnOfRetentionFailure(policy, error, { reportError }),
    );
  }

  /** The policy of one run: limited to what the readers have processed, when they are given. */
  private async policy(): Promise<RetentionPolicy> {
    const { policy, processedUpTo } = this.options;
    if (!processedUpTo) return policy;
    const processed: unknown = await processedUpTo();
    // Infinity: no reader to wait for (Math.min of no checkpoints); the policy's own limit.
    if (processed === Infinity) return policy;
    // Checked here, naming processedUpTo: the store would name the maxPosition made of it, which
    // the policy never set, and Math.min would take a string ("7", read from Redis) for a number.
    if (!Number.isSafeInteger(processed) || (processed as number) < 0)
      throw new TypeError(
        'processedUpTo() must resolve to a position (a non-negative integer) or Infinity ' +
          `(no reader), got ${shownValue(processed)}`,
      );
    const maxPosition = Math.min(processed as number, policy.maxPosition ?? Infinity);
    return { ...policy, maxPosition };
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/** The `type` of the process warning a RetentionJob without `onError` emits for a failed run. */
export const RETENTION_WARNING = 'CausewayRetentionWarning';

/** The default report of a failed run (see RetentionJobOptions.onError). */
function warnOfRetentionFailure(
  policy: RetentionPolicy,
  error: unknown,
  hook?: { reportError: unknown },
): void {
  const text = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  process.emitWarning(
    `event store retention failed (policy ${JSON.stringify(policy)}): ${text(error)}. The run ` +
      'stopped there; the next one tries again. ' +
      (hook
        ? `onError failed on it too: ${text(hook.reportError)}`
        : 'Pass onError to report it your way'),
    { type: RETENTION_WARNING, code: 'CAUSEWAY_RETENTION_FAILED' },
  );
}
