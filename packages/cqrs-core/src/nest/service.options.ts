import { type ManagedConnection } from '../connections/managed-connection.port';
import { type HealthProbe } from '../health/health-probe.port';

export interface ServiceOptions {
  /** Service name: log field `service`, metric label, health payload. */
  service: string;
  /** Instance id (several instances of one service). */
  instanceId: string;
  logLevel: string;
  /** Connections this service opens at start-up and closes at shutdown; each is also a readiness probe. */
  connections?: readonly ManagedConnection[];
  /** Extra readiness probes. */
  probes?: readonly HealthProbe[];
  /** Per-probe timeout of /health/ready. Default 2 s. */
  probeTimeoutMs?: number;
}
