import { type HealthProbe } from '@causeway/cqrs-core';
import { type TokenRevocations } from './token-revocations.port';

/** The readiness probe of an app whose tokens are revocable: down until the copy is loaded. */
export const REVOCATIONS_PROBE = 'token-revocations';

/**
 * Keeps an app's TokenRevocations loaded: adds the readiness probe `token-revocations` to
 * `probes` and starts the revocations, again and again (0.1 s doubling to 5 s, each failure
 * told to `warn`) until the backend answers. Until then no token is refused as revoked, and the
 * probe says so. `close` stops the retries and the revocations.
 */
export function keepRevocationsLoaded(
  revocations: TokenRevocations,
  options: { probes?: HealthProbe[]; warn(message: string): void },
): { close(): Promise<void> } {
  let closed = false;
  options.probes?.push({
    name: REVOCATIONS_PROBE,
    check: async () => {
      if (!revocations.ready) throw new Error('the token revocations are not loaded yet');
    },
  });
  void (async () => {
    for (let delay = 100; !closed; delay = Math.min(5_000, delay * 2)) {
      try {
        return await revocations.start();
      } catch (error) {
        if (closed) return;
        options.warn(`token revocations not loaded: ${(error as Error).message}; retrying`);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  })();
  return {
    close: async () => {
      closed = true;
      await revocations.close().catch(() => undefined);
    },
  };
}
