import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type ProgressRetentionJob } from './progress-retention.job';

export const PROGRESS_RETENTION = Symbol('order-processor:progress-retention');

/** Starts the retention job once the event store is initialised; stops it before the connections close. */
@Injectable()
export class RetentionLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private stopped = false;

  constructor(
    @Inject(PROGRESS_RETENTION)
    private readonly retention: { job: ProgressRetentionJob; ready: () => Promise<void> },
  ) {}

  onApplicationBootstrap(): void {
    void this.retention.ready().then(
      () => {
        if (!this.stopped) this.retention.job.start();
      },
      // The order consumer reports a store that cannot start (readiness).
      () => undefined,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.retention.job.stop();
  }
}
