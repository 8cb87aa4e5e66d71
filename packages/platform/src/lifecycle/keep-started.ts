import { type HealthProbe } from '@causeway/cqrs-core';

/** Something an app starts at boot that needs a server (Redis) to be there. */
export interface Startable {
  /** Resolves once started; may be called again after it failed. */
  start(): Promise<void>;
  close(): Promise<void>;
  readonly ready: boolean;
}

/**
 * Keeps `startable` started while the app runs: adds the readiness probe `name` to `probes`
 * (down until it is ready) and calls `start` again and again (0.1 s doubling to 5 s, each
 * failure told to `warn`) until it resolves: an app boots while its servers are still
 * unreachable, and must not stay without the part for the rest of its life. `close` stops the
 * retries and closes it.
 */
export function keepStarted(
  name: string,
  startable: Startable,
  options: { probes?: HealthProbe[]; warn(message: string): void },
): { close(): Promise<void> } {
  let closed = false;
  options.probes?.push({
    name,
    check: async () => {
      if (!startable.ready) throw new Error(`${name} is not started yet`);
    },
  });
  void (async () => {
    for (let delay = 100; !closed; delay = Math.min(5_000, delay * 2)) {
      try {
        return await startable.start();
      } catch (error) {
        if (closed) return;
        options.warn(`${name} not started: ${reasonOf(error)}; retrying`);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  })();
  return {
    close: async () => {
      closed = true;
      await startable.close().catch(() => undefined);
    },
  };
}

/**
 * Why a start failed, as an operator reads it. ioredis answers a command sent while Redis is
 * unreachable with MaxRetriesPerRequestError, whose text points at an option of its own; the
 * connection wraps it in a RedisCommandNotSentError (its `cause`), which adds that the command
 * "never will be" sent — beside our "retrying".
 */
function reasonOf(error: unknown): string {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 10; depth++) {
    if (cause.name === 'MaxRetriesPerRequestError')
      return 'Redis is unreachable (see the Connections lines for its address and cause)';
    cause = cause.cause;
  }
  return error instanceof Error ? error.message : String(error);
}

/** The readiness probe of an app whose tokens are revocable: down until the copy is loaded. */
export const REVOCATIONS_PROBE = 'token-revocations';
