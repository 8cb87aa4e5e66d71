import { type ManagedConnection } from '../connections/managed-connection.port';
import { type HealthProbe } from '../health/health-probe.port';

export interface ServiceOptions {
  /**
   * Service name: log field `service`, metric label, health payload. 1 to 200 characters without
   * whitespace, as `instanceId` (else forRoot throws, naming it).
   */
  service: string;
  /** Instance id (several instances of one service). */
  instanceId: string;
  logLevel: string;
  /** Connections this service opens at start-up and closes at shutdown; each is also a readiness probe. */
  connections?: readonly ManagedConnection[];
  /** Extra probes; `critical: false` ones (e.g. breakersProbe) show in /health but never fail readiness. */
  probes?: readonly (HealthProbe & { critical?: boolean })[];
  /** Period of the background checks behind GET /health, in ms (a positive integer). Default 10 s. */
  healthIntervalMs?: number;
  /** Per-probe timeout of /health and /health/ready, in ms (a positive integer). Default 2 s. */
  probeTimeoutMs?: number;
}
