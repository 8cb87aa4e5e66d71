import { MAX_TIMER_MS } from '../config/settings.schema';
import { checkPositiveInteger } from '../connections/connection-options.check';
import { probeNames, runProbes, type HealthProbe, type ProbeResult } from './health-probe.port';

export interface HealthSample {
  /** ISO-8601. */
  at: string;
  healthy: boolean;
  latencyMs: number;
  error?: string;
}

export interface ProbeHealth {
  healthy: boolean;
  /** Probes that only inform (breakers) never make the service unready. */
  critical: boolean;
  latest: HealthSample;
  /** Most recent first. */
  history: HealthSample[];
}

export interface HealthSnapshot {
  /** 'up': every probe healthy; 'degraded': only non-critical ones fail; 'down': a critical one fails. */
  status: 'up' | 'degraded' | 'down' | 'unknown';
  checkedAt?: string;
  probes: Record<string, ProbeHealth>;
}

export interface HealthMonitorOptions {
  probes: readonly (HealthProbe & { critical?: boolean })[];
  /** Milliseconds between checks, a positive integer. Default 10 s. */
  intervalMs?: number;
  /** Samples kept per probe, a positive integer. Default 20. */
  historySize?: number;
  /** Per-probe timeout in milliseconds, a positive integer. Default 2 s. */
  timeoutMs?: number;
}

/**
 * Runs health probes periodically (S1-8) and keeps their recent history, so that an operator
 * sees a flapping dependency, not just its state this instant.
 */
export class HealthMonitor {
  /**
   * Per probe (the object, not its name: two probes may share one), newest check first; `check`
   * numbers the check that took the sample.
   */
  private readonly samples = new Map<HealthProbe, (HealthSample & { check: number })[]>();
  private timer: NodeJS.Timeout | undefined;
  private checkedAt: string | undefined;
  /** Checks started so far: orders overlapping checks by when they started. */
  private checks = 0;
  /** The check current() runs for probes without a sample, shared by concurrent callers. */
  private catchingUp: Promise<unknown> | undefined;

  /**
   * @throws TypeError naming `intervalMs`, `historySize` or `timeoutMs` when it is not a positive
   * integer (timers: up to 2 147 483 647 ms): an interval of 0 probed every server without pause,
   * a timeout of 0 failed every probe, a history of 0 kept no sample (status `unknown` for ever)
   */
  constructor(private readonly options: HealthMonitorOptions) {
    checkPositiveInteger('HealthMonitor', 'intervalMs', options.intervalMs, MAX_TIMER_MS);
    checkPositiveInteger('HealthMonitor', 'historySize', options.historySize, 10_000);
    checkPositiveInteger('HealthMonitor', 'timeoutMs', options.timeoutMs, MAX_TIMER_MS);
  }

  start(): void {
    if (this.timer) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.options.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Runs every probe once now and records the results. Checks may overlap (the periodic one and
   * one asked for, a probe slow to its timeout): a check's samples go behind those of checks
   * started after it, so `latest` is always the newest check's answer, not the slowest one's.
   */
  async check(): Promise<ProbeResult[]> {
    const check = ++this.checks;
    // The list as it is now: a module may add a probe while this check runs.
    const probes = [...this.options.probes];
    const results = await runProbes(probes, this.options.timeoutMs);
    const at = new Date().toISOString();
    if (this.checkedAt === undefined || at > this.checkedAt) this.checkedAt = at;
    for (const [position, result] of results.entries()) {
      const probe = probes[position]!;
      const history = this.samples.get(probe) ?? [];
      let index = 0;
      while (index < history.length && history[index]!.check > check) index++;
      history.splice(index, 0, {
        check,
        at,
        healthy: result.healthy,
        latencyMs: Math.round(result.latencyMs * 10) / 10,
        ...(result.error && { error: result.error }),
      });
      history.length = Math.min(history.length, this.options.historySize ?? 20);
      this.samples.set(probe, history);
    }
    return results;
  }

  /**
   * The snapshot, once every probe has a sample: a probe added after the last check (another
   * module's, registered at bootstrap after the monitor's first check) is checked now, with the
   * others, rather than left out until the next period — /health read `up` without it meanwhile,
   * while /health/ready failed on it. Concurrent callers share that check. Not before start()
   * nor after stop(): then it is the snapshot as it stands.
   */
  async current(): Promise<HealthSnapshot> {
    const unchecked = this.options.probes.some((probe) => !this.samples.has(probe));
    if (unchecked && this.timer) {
      this.catchingUp ??= this.check().finally(() => (this.catchingUp = undefined));
      await this.catchingUp;
    }
    return this.snapshot();
  }

  snapshot(): HealthSnapshot {
    const probes: Record<string, ProbeHealth> = {};
    const names = probeNames(this.options.probes);
    for (const [position, probe] of this.options.probes.entries()) {
      const history = this.samples.get(probe)?.map(({ check: _check, ...sample }) => sample);
      if (!history?.[0]) continue;
      probes[names[position]!] = {
        healthy: history[0].healthy,
        critical: probe.critical ?? true,
        latest: history[0],
        history,
      };
    }
    const all = Object.values(probes);
    const status =
      all.length === 0
        ? 'unknown'
        : all.some((p) => !p.healthy && p.critical)
          ? 'down'
          : all.some((p) => !p.healthy)
            ? 'degraded'
            : 'up';
    return { status, ...(this.checkedAt && { checkedAt: this.checkedAt }), probes };
  }
}
