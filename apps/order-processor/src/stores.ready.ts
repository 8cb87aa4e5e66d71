import { setTimeout as sleep } from 'node:timers/promises';

/** The pause before asking `ready` again: doubling from 250 ms up to 10 s. */
export function readyRetryDelayMs(attempt: number): number {
  return Math.min(10_000, 250 * 2 ** Math.min(attempt - 1, 6));
}

/**
 * Waits until the stores can be used: asks `ready` (the module's, which a failure resets) and,
 * each time it rejects, tells `onFailure` and asks again after a growing pause
 * (readyRetryDelayMs). A failure at start — MongoDB restarting while the app starts, an index
 * build cut mid-way — is then over once the stores are back, as the runbook says; asked once,
 * it stopped the order consumer and retention for the life of the process. Resolves true once
 * `ready` resolved, false as soon as `signal` aborts (shutdown), without waiting for a call or
 * pause in progress.
 */
export async function untilReady(
  ready: () => Promise<void>,
  options: { signal: AbortSignal; onFailure: (error: unknown, retryInMs: number) => void },
): Promise<boolean> {
  const { signal, onFailure } = options;
  const aborted = new Promise<false>((resolve) => {
    if (signal.aborted) resolve(false);
    else signal.addEventListener('abort', () => resolve(false), { once: true });
  });
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      const asked = ready().then(() => true);
      // A call still pending at shutdown is left to settle on its own.
      asked.catch(() => undefined);
      return await Promise.race([asked, aborted]);
    } catch (error) {
      if (signal.aborted) return false;
      const delay = readyRetryDelayMs(attempt);
      onFailure(error, delay);
      try {
        await sleep(delay, undefined, { signal, ref: false });
      } catch {
        return false; // aborted during the pause
      }
    }
  }
  return false;
}
