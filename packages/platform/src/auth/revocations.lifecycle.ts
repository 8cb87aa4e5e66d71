import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type Provider,
} from '@nestjs/common';
import { type HealthProbe } from '@causeway/cqrs-core';
import { HEALTH_PROBES } from '@causeway/cqrs-core/nest';
import { keepStarted, REVOCATIONS_PROBE } from '../lifecycle/keep-started';
import { type TokenRevocations } from './token-revocations.port';

/**
 * Keeps an app's token revocations loaded while it runs: started after boot and retried until
 * Redis answers (keepStarted), with the readiness probe `token-revocations`; closed at shutdown.
 * Without it a RedisTokenRevocations is never loaded nor subscribed: its TokenService refuses no
 * revoked token at all, and nothing says so.
 */
@Injectable()
export class RevocationsLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('TokenRevocations');
  private kept: { close(): Promise<void> } | undefined;

  constructor(
    private readonly revocations: TokenRevocations,
    private readonly probes?: HealthProbe[],
  ) {}

  onApplicationBootstrap(): void {
    this.kept = keepStarted(REVOCATIONS_PROBE, this.revocations, {
      probes: this.probes,
      warn: (message) => this.logger.warn(message),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.kept?.close();
  }
}

/**
 * The provider of a RevocationsLifecycle for `revocations` (the instance the app's TokenService
 * checks): put it in the `providers` of the module that owns them. Once per instance: where
 * several modules of one app share it (the embedded mode), only one of them keeps it.
 */
export function revocationsLifecycle(revocations: TokenRevocations): Provider {
  return {
    provide: RevocationsLifecycle,
    inject: [{ token: HEALTH_PROBES, optional: true }],
    useFactory: (probes?: HealthProbe[]) => new RevocationsLifecycle(revocations, probes),
  };
}
