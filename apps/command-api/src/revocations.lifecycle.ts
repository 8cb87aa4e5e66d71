import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { type HealthProbe } from '@causeway/cqrs-core';
import { HEALTH_PROBES } from '@causeway/cqrs-core/nest';
import { keepStarted, REVOCATIONS_PROBE } from '@causeway/platform';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from './command-api.options';

/** Keeps the options' token revocations loaded while the app runs (keepStarted). */
@Injectable()
export class RevocationsLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('TokenRevocations');
  private kept: { close(): Promise<void> } | undefined;

  constructor(
    @Inject(COMMAND_API_OPTIONS) private readonly options: CommandApiOptions,
    @Optional() @Inject(HEALTH_PROBES) private readonly probes?: HealthProbe[],
  ) {}

  onApplicationBootstrap(): void {
    const revocations = this.options.revocations;
    if (!revocations) return;
    this.kept = keepStarted(REVOCATIONS_PROBE, revocations, {
      probes: this.probes,
      warn: (message) => this.logger.warn(message),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.kept?.close();
  }
}
