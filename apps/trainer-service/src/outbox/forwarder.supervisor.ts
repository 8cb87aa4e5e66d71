import { type EventForwarder } from '@causeway/cqrs-core';
import { type Lease } from './lease.port';

export interface ForwarderSupervisorOptions {
  forwarder: EventForwarder;
  /** Without a lease the forwarder simply runs (one process, e.g. the embedded mode). */
  lease?: Lease;
  /** How often the lease is taken or renewed. Default ttlMs / 3. */
  renewEveryMs?: number;
  onChange?: (event: { holding: boolean }) => void;
  onError?: (error: unknown) => void;
}

/**
 * Runs the outbox forwarder of this instance only while it holds the lease, so that of several
 * instances one forwards at a time: it takes or renews the lease every `renewEveryMs`, starts the
 * forwarder when it got it and stops it when it lost it (or cannot reach the lease's server).
 * Another instance takes over at most one ttl after this one died. Two forwarders overlapping for
 * a moment (a stalled holder) only republish events, which consumers deduplicate (ADR 005).
 */
export class ForwarderSupervisor {
  private running = false;
  private holding = false;
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> | undefined;

  constructor(private readonly options: ForwarderSupervisorOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    if (!this.options.lease) {
      this.options.forwarder.start();
      this.holding = true;
      return;
    }
    this.schedule(0);
  }

  /** Whether this instance forwards now. */
  get forwarding(): boolean {
    return this.holding;
  }

  /** Stops forwarding (after the round in progress) and releases the lease. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.timer);
    await this.tick;
    await this.options.forwarder.stop();
    if (this.options.lease) {
      await this.options.lease.release().catch((error) => this.options.onError?.(error));
    }
    this.holding = false;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.tick = this.renew().finally(() => {
        if (this.running) this.schedule(this.renewEveryMs);
      });
    }, delayMs);
  }

  private get renewEveryMs(): number {
    return this.options.renewEveryMs ?? Math.max(10, Math.floor(this.options.lease!.ttlMs / 3));
  }

  private async renew(): Promise<void> {
    let held = false;
    try {
      held = await this.options.lease!.acquire();
    } catch (error) {
      this.options.onError?.(error);
    }
    if (!this.running) return;
    if (held && !this.holding) {
      this.holding = true;
      this.options.forwarder.start();
      this.options.onChange?.({ holding: true });
    } else if (!held && this.holding) {
      this.holding = false;
      await this.options.forwarder.stop();
      this.options.onChange?.({ holding: false });
    }
  }
}
