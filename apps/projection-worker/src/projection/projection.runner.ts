import { DeferredError, type Envelope } from '@causeway/cqrs-core';
import { TRAINER_MOVED_EVENT, type TrainerMovedEvent } from '@causeway/contracts';
import { PositionNotifier } from '@causeway/platform';
import { type ProjectionModuleOptions } from './projection.module-options';
import { ReadModelsCatchUp } from './read-models.catch-up';
import { ReadModelsProjector } from './read-models.projector';

/**
 * The projection of the live trainer flow: at start it catches the read models up from the event
 * store (no notifications), then keeps them live from the event bus and notifies every live
 * TrainerMovedEvent; a periodic catch-up keeps the checkpoint moving (and repairs anything the
 * bus lost) so the next start has little to replay.
 *
 * Live events that arrive before the first catch-up finished are deferred (the transport
 * redelivers them), so a notification never goes out with membership that is not caught up yet.
 * A live event the first catch-up itself applied (the bus replaying history to a new consumer
 * group) is not notified: it is history too. One that was applied before (a redelivery after a
 * crash between the read-model write and the append) is notified: the log deduplicates it.
 */
export class ProjectionRunner {
  private readonly projector: ReadModelsProjector;
  private readonly notifier: PositionNotifier;
  private readonly catchUp: ReadModelsCatchUp;
  private readonly history = new Set<string>();
  private caughtUp = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly options: ProjectionModuleOptions & {
      onError?: (error: unknown) => void;
      onCaughtUp?: (events: number) => void;
    },
  ) {
    this.projector = new ReadModelsProjector(options.positions, options.groups);
    this.notifier = new PositionNotifier(options.groups, options.notifications, options.serverId);
    this.catchUp = new ReadModelsCatchUp({
      eventStore: options.eventStore,
      checkpoints: options.checkpoints,
      projector: this.projector,
      name: options.checkpointName ?? 'projection-worker.read-models',
    });
  }

  get isCaughtUp(): boolean {
    return this.caughtUp;
  }

  /** Waits for `ready`, runs the first catch-up (retrying until it succeeds), then the periodic one. */
  async start(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.options.ready?.();
        const events = await (this.running = this.catchUp.run((id) => this.history.add(id)));
        this.caughtUp = true;
        this.options.onCaughtUp?.(events);
        break;
      } catch (error) {
        this.options.onError?.(error);
        await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)));
      }
    }
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** A live event from the bus. */
  async handle(event: Envelope): Promise<void> {
    if (!this.caughtUp) throw new DeferredError('the read models are still catching up');
    if (event.type !== TRAINER_MOVED_EVENT || this.history.has(event.messageId)) {
      await this.projector.apply(event);
      return;
    }
    // Independent writes (a move changes no membership), so both at once: a redelivery after
    // either failed repeats both, and each is idempotent.
    await Promise.all([
      this.projector.apply(event),
      this.notifier.notify(event as Envelope<TrainerMovedEvent>),
    ]);
  }

  private schedule(): void {
    const every = this.options.catchUpIntervalMs ?? 30_000;
    if (this.stopped || every <= 0) return;
    this.timer = setTimeout(() => {
      this.running = this.catchUp
        .run()
        .catch((error) => this.options.onError?.(error))
        .finally(() => this.schedule());
    }, every);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
