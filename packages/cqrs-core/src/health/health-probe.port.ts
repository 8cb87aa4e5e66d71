import { credentialsRemoved } from '../connections/connection-target';

/**
 * A check that a dependency answers a real request (PING, listTopics, ping command).
 * `check` resolves when healthy and rejects with an error saying what is wrong; it must not
 * hang: callers race it against a timeout, but a probe should set its own short deadline too.
 */
export interface HealthProbe {
  /**
   * Stable name shown in /health and /health/ready, e.g. `redis`, `kafka`, `mongodb`. Give each
   * probe a name of its own (redisConnection's `name`, say, for a second Redis connection): a
   * probe whose name an earlier one has is shown as `<name>#2` (#3 …, see probeNames).
   */
  readonly name: string;
  check(): Promise<void>;
}

export interface ProbeResult {
  name: string;
  healthy: boolean;
  /** Milliseconds the probe took. */
  latencyMs: number;
  /**
   * Why it failed: the probe's error message, with credentials removed (credentialsRemoved), at
   * most HEALTH_ERROR_MAX characters (then `…`).
   */
  error?: string;
}

/**
 * The most of a probe's error /health and /health/ready show (then `…`). A dependency's error
 * may be a whole document (an HTML error page, a driver's dump of its topology), and /health
 * repeats it in each sample of its history: 100 KB became 2 MB an answer, without a token.
 */
export const HEALTH_ERROR_MAX = 300;

/**
 * The name each probe is shown under, in order: its own, and for a probe whose name an earlier
 * one has, `<name>#2` (then #3 …, skipping a name another probe has). Two Redis connections both
 * named `redis` had one history in /health, whose `latest` could be the healthy one's while the
 * other, critical, failed: /health said `up`, and /health/ready showed one of the two.
 */
export function probeNames(probes: readonly HealthProbe[]): string[] {
  const taken = new Set(probes.map((probe) => probe.name));
  const shown = new Set<string>();
  return probes.map(({ name }) => {
    let unique = name;
    for (let n = 2; shown.has(unique) || (unique !== name && taken.has(unique)); n++)
      unique = `${name}#${n}`;
    shown.add(unique);
    return unique;
  });
}

/**
 * Runs probes concurrently, each bounded by `timeoutMs`. Never rejects. A reply that arrived
 * within the timeout counts, also when the event loop was too busy to read it before the timer
 * fired (see runProbe).
 */
export async function runProbes(
  probes: readonly HealthProbe[],
  timeoutMs = 2_000,
): Promise<ProbeResult[]> {
  return Promise.all(probes.map((probe) => runProbe(probe, timeoutMs)));
}

/**
 * One probe, raced against its timeout. Node runs the expired timers of a turn of its event loop
 * before the poll phase that reads the sockets: when the loop was busy past the timeout (a flood
 * of requests), a reply the server sent in time waited unread, the timer fired first, and a
 * healthy dependency was reported "no answer" (/health/ready answered 503). The timer, when it
 * fires, waits for a `setImmediate` — after the poll phase of the same turn has read what had
 * arrived and the probe's promise settled — and fails the probe only if it is still unanswered
 * then, as the Redis command timeout does (redisConnection, session 46).
 */
async function runProbe(probe: HealthProbe, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  try {
    await Promise.race([
      probe.check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // A probe that settled meanwhile has won the race already: this changes nothing then.
          immediate = setImmediate(() => reject(new Error(`no answer within ${timeoutMs} ms`)));
        }, timeoutMs);
      }),
    ]);
    return { name: probe.name, healthy: true, latencyMs: performance.now() - started };
  } catch (error) {
    // Shown by /health and /health/ready, which need no token: the message may quote a URL
    // with its user info, or a password (a team's probe, a handler's or projection's error).
    // Cut after the credentials are removed: a cut could split one so that it is not found.
    const redacted = credentialsRemoved(error instanceof Error ? error.message : String(error));
    const message =
      redacted.length > HEALTH_ERROR_MAX ? `${redacted.slice(0, HEALTH_ERROR_MAX)}…` : redacted;
    return {
      name: probe.name,
      healthy: false,
      latencyMs: performance.now() - started,
      error: message,
    };
  } finally {
    clearTimeout(timer);
    clearImmediate(immediate);
  }
}
