import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { untilReady } from '../stores.ready';
import { type ProgressRetentionJob } from './progress-retention.job';

export const PROGRESS_RETENTION = Symbol('order-processor:progress-retention');

/**
 * Starts the retention job once the event store is initialised (asking again until it is);
 * stops it before the connections close.
 */
@Injectable()
export class RetentionLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** Aborted at shutdown: the start stops waiting for the stores. */
  private readonly stopping = new AbortController();
  private readonly logger = new Logger('ProgressRetention');

  constructor(
    @Inject(PROGRESS_RETENTION)
    private readonly retention: { job: ProgressRetentionJob; ready: () => Promise<void> },
  ) {}

  onApplicationBootstrap(): void {
    // Asked again until the stores are up, as the order consumer does (which also reports
    // why in readiness): a failure at start must not leave retention off for good.
    void untilReady(this.retention.ready, {
      signal: this.stopping.signal,
      onFailure: (error, retryInMs) =>
        this.logger.warn(
          `retention waits for the event store: ${(error as Error).message}; trying again in ${retryInMs} ms`,
        ),
    }).then((ready) => {
      if (ready && !this.stopping.signal.aborted) this.retention.job.start();
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.retention.job.stop();
  }
}
