/** After this long up, an app's next crash is counted as a first one again. */
const STABLE_AFTER_MS = 60_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;

/**
 * When to restart an app that exited: 1 s after its first crash, doubling with each crash in
 * a row up to 30 s; a crash after more than a minute up starts again at 1 s. `failures` is the
 * streak before this crash (0 for an app that never crashed); pass the returned `streak` for
 * the next one.
 */
export function restartBackoff(
  failures: number,
  uptimeMs: number,
): { streak: number; delayMs: number } {
  const streak = uptimeMs > STABLE_AFTER_MS ? 1 : failures + 1;
  return { streak, delayMs: Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (streak - 1)) };
}
