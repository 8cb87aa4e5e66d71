import { type Lease } from './lease.port';

/** The longest delay setTimeout keeps: 2^31 - 1 ms (~24.8 days); a longer one becomes 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LeaseSupervisorOptions {
  /** Without a lease the work simply runs from `start()` to `stop()` (one process, tests). */
  lease?: Lease;
  /** Starts the work: called when this instance took the lease. */
  start: () => void | Promise<void>;
  /** Stops the work: called when this instance lost the lease, and by `stop()`. */
  stop: () => Promise<void>;
  /** How often the lease is taken or renewed. Default ttlMs / 3. */
  renewEveryMs?: number;
  /** Told when this instance starts (`holding: true`) or stops (`false`) the work. */
  onChange?: (event: { holding: boolean }) => void;
  /** Told of a failed acquire, release or start. */
  onError?: (error: unknown) => void;
}

/**
 * Runs some work (an `EventForwarder`, a `ProjectionRunner`, a cleanup job) in one instance of a
 * service at a time: every instance takes or renews the lease every `renewEveryMs`; the one that
 * got it starts the work, and stops it as soon as a renewal fails (lost, or the lease's server
 * cannot be reached). When the holder dies another instance takes over at its first renewal
 * after the lease lapsed: up to `ttlMs` + `renewEveryMs` after the death (the holder may have
 * renewed just before it, the others tried just before the lapse); when it stops (`stop()`) it
 * releases the lease, so a successor takes over at its next renewal.
 * A work that fails to start is reported, the lease released, and the next renewal tries again.
 * See Lease for why two holders may overlap for a moment.
 */
export class LeaseSupervisor {
  private running = false;
  private working = false;
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> | undefined;

  constructor(private readonly options: LeaseSupervisorOptions) {
    const every = options.renewEveryMs;
    if (every !== undefined && !(every > 0 && every <= MAX_TIMER_MS))
      throw new RangeError(`renewEveryMs must be > 0 and at most ${MAX_TIMER_MS}, got ${every}`);
    if (options.lease && every !== undefined && every >= options.lease.ttlMs)
      throw new RangeError(
        `renewEveryMs (${every}) must be below the lease's ttlMs (${options.lease.ttlMs}), or the lease lapses between renewals`,
      );
  }

  /** Starts competing for the lease (or, without one, the work itself). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (!this.options.lease) {
      this.tick = this.take();
      return;
    }
    this.schedule(0);
  }

  /** Whether this instance runs the work now. */
  get holding(): boolean {
    return this.working;
  }

  /** Stops the work (waiting for it) and releases the lease. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.timer);
    await this.tick;
    if (this.working) await this.drop();
    if (this.options.lease)
      await this.options.lease.release().catch((error) => this.options.onError?.(error));
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.tick = this.renew().finally(() => {
        if (this.running) this.schedule(this.renewEveryMs);
      });
    }, delayMs);
  }

  private get renewEveryMs(): number {
    // A third of the ttl, but never past the longest timer Node keeps (a longer one fires at once).
    return (
      this.options.renewEveryMs ??
      Math.min(MAX_TIMER_MS, Math.max(10, Math.floor(this.options.lease!.ttlMs / 3)))
    );
  }

  private async renew(): Promise<void> {
    let held = false;
    try {
      held = await this.options.lease!.acquire();
    } catch (error) {
      this.options.onError?.(error);
    }
    if (!this.running) return;
    if (held && !this.working) {
      await this.take();
      if (!this.working)
        await this.options.lease!.release().catch((error) => this.options.onError?.(error));
    } else if (!held && this.working) {
      await this.drop();
    }
  }

  private async take(): Promise<void> {
    try {
      await this.options.start();
    } catch (error) {
      this.options.onError?.(error);
      return;
    }
    this.working = true;
    this.options.onChange?.({ holding: true });
  }

  private async drop(): Promise<void> {
    this.working = false;
    await this.options.stop().catch((error) => this.options.onError?.(error));
    this.options.onChange?.({ holding: false });
  }
}
