/**
 * What a test receives through callbacks (deliveries, log entries, messages heard), awaited
 * with a deadline. A test that polled `while (seen.length < n) await delay(5)` hung until
 * jest's own timeout when the code under test broke, and said only "Exceeded timeout": this
 * resolves as soon as an arrival makes the condition hold, and otherwise fails after
 * `timeoutMs` saying what did not happen and what did arrive.
 */
export class Arrivals<T> {
  private readonly received: T[] = [];
  private readonly waiters = new Set<() => void>();

  /** What arrived so far, in order. */
  get items(): readonly T[] {
    return this.received;
  }

  get length(): number {
    return this.received.length;
  }

  /** Records one arrival (call it from the callback). */
  push(item: T): void {
    this.received.push(item);
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves once `count` items arrived; see until. */
  atLeast(count: number, what: string, timeoutMs = 5_000): Promise<readonly T[]> {
    return this.until((items) => items.length >= count, what, timeoutMs);
  }

  /**
   * Resolves with the items once `check` holds for them (checked now and at each arrival): a
   * copy of them then, which later arrivals leave as it is.
   * @throws Error `timed out after <timeoutMs> ms waiting for <what>; received: [...]`
   */
  until(
    check: (items: readonly T[]) => boolean,
    what: string,
    timeoutMs = 5_000,
  ): Promise<readonly T[]> {
    if (check(this.received)) return Promise.resolve([...this.received]);
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (!check(this.received)) return;
        done();
        resolve([...this.received]);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; received: ${shown(this.received)}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      this.waiters.add(wake);
    });
  }
}

/**
 * Settles as `promise` does, or fails after `timeoutMs` saying what did not happen: for a
 * promise a bug would leave pending for ever (a close(), a subscription).
 */
export async function within<T>(timeoutMs: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function shown(items: readonly unknown[]): string {
  const text = JSON.stringify(items.slice(-20)) ?? String(items);
  return items.length > 20 ? `${items.length} items, the last 20: ${text}` : text;
}
