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
import { ProjectionRunner } from './projection.runner';

/**
 * Starts the catch-up once the app is up (without delaying start-up) and stops it at shutdown.
 * Until the read models are caught up (at start, and while they are rebuilt after a loss) the
 * `read-models` readiness probe fails saying why, as trainer-service's `trainer-commands` and
 * order-processor's `order-consumer` do while they cannot do their work: live events are
 * deferred meanwhile, and an operator (or a rolling update) waiting for readiness waits for that.
 */
@Injectable()
export class ProjectionLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(ProjectionRunner) private readonly runner: ProjectionRunner,
    @Optional() @Inject(HEALTH_PROBES) private readonly probes?: HealthProbe[],
  ) {}

  onApplicationBootstrap(): void {
    this.probes?.push({
      name: 'read-models',
      check: async () => {
        const why = this.runner.notCaughtUp();
        if (why !== undefined) throw new Error(why);
      },
    });
    void this.runner.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.runner.stop();
  }
}

export const projectionLogger = new Logger('Projection');
