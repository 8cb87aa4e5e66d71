import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  Inject,
  ServiceUnavailableException,
  UseFilters,
} from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { probeNames, runProbes, type HealthProbe } from '../health/health-probe.port';
import { HealthMonitor, type HealthSnapshot } from '../health/health.monitor';
import { HEALTH_PROBES, SERVICE_OPTIONS } from './service.tokens';
import { type ServiceOptions } from './service.options';

interface JsonResponse {
  status(code: number): { json(body: unknown): void };
}

/**
 * A failed readiness check answers 503 with Terminus's own document (`status`, `info`,
 * `error`, `details`), which monitors read, not with problem details.
 */
@Catch(ServiceUnavailableException)
class HealthDocumentFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<JsonResponse>().status(503).json(exception.getResponse());
  }
}

/**
 * `GET /health`: the periodic checks and their history.
 * `GET /health/live`: the process runs (never touches a dependency, so a slow server never
 * gets a live process restarted). `GET /health/ready`: every connection answers a real request;
 * 503 with the failing ones otherwise.
 */
@Controller('health')
@UseFilters(HealthDocumentFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(HEALTH_PROBES)
    private readonly probes: readonly (HealthProbe & { critical?: boolean })[],
    @Inject(SERVICE_OPTIONS) private readonly options: ServiceOptions,
    private readonly monitor: HealthMonitor,
  ) {}

  /** Periodic checks with their recent history (S1-8), including informational probes. */
  @Get()
  async history(): Promise<HealthSnapshot & { service: string; instanceId: string }> {
    return {
      service: this.options.service,
      instanceId: this.options.instanceId,
      // With every probe registered so far: one added since the last check is checked now.
      ...(await this.monitor.current()),
    };
  }

  @Get('live')
  live(): { status: 'ok'; service: string; instanceId: string } {
    return { status: 'ok', service: this.options.service, instanceId: this.options.instanceId };
  }

  @Get('ready')
  @HealthCheck()
  async ready() {
    // Informational probes (critical: false, e.g. open breakers) show in /health, never here.
    // Each under the name /health shows it by (two of one name apart: probeNames).
    const names = probeNames(this.probes);
    const critical = this.probes
      .map((probe, position) => ({ probe, name: names[position]! }))
      .filter(({ probe }) => probe.critical !== false);
    const results = await runProbes(
      critical.map(({ probe }) => probe),
      this.options.probeTimeoutMs,
    );
    return this.health.check(
      results.map((result, position) => async (): Promise<HealthIndicatorResult> => {
        const indicator = this.indicators.check(critical[position]!.name);
        const details = { latencyMs: Math.round(result.latencyMs * 10) / 10 };
        return result.healthy
          ? indicator.up(details)
          : indicator.down({ ...details, message: result.error });
      }),
    );
  }
}
