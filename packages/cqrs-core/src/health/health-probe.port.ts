import { credentialsRemoved } from '../connections/connection-target';

/**
 * A check that a dependency answers a real request (PING, listTopics, ping command).
 * `check` resolves when healthy and rejects with an error saying what is wrong; it must not
 * hang: callers race it against a timeout, but a probe should set its own short deadline too.
 */
export interface HealthProbe {
  /** Stable name shown in /health/ready, e.g. `redis`, `kafka`, `mongodb`. */
  readonly name: string;
  check(): Promise<void>;
}

export interface ProbeResult {
  name: string;
  healthy: boolean;
  /** Milliseconds the probe took. */
  latencyMs: number;
  /** Why it failed: the probe's error message, with credentials removed (credentialsRemoved). */
  error?: string;
}

/** Runs probes concurrently, each bounded by `timeoutMs`. Never rejects. */
export async function runProbes(
  probes: readonly HealthProbe[],
  timeoutMs = 2_000,
): Promise<ProbeResult[]> {
  return Promise.all(probes.map((probe) => runProbe(probe, timeoutMs)));
}

async function runProbe(probe: HealthProbe, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { name: probe.name, healthy: true, latencyMs: performance.now() - started };
  } catch (error) {
    // Shown by /health and /health/ready, which need no token: the message may quote a URL
    // with its user info, or a password (a team's probe, a handler's or projection's error).
    const message = credentialsRemoved(error instanceof Error ? error.message : String(error));
    return {
      name: probe.name,
      healthy: false,
      latencyMs: performance.now() - started,
      error: message,
    };
  } finally {
    clearTimeout(timer);
  }
}
