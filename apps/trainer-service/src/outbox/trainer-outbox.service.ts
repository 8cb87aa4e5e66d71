import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import {
  EagerForwardingStore,
  EventForwarder,
  type EventStore,
  forwarderProbe,
  type HealthProbe,
  LeaseSupervisor,
  type Publisher,
  topicNaming,
} from '@causeway/cqrs-core';
import {
  BUS_PUBLISHER,
  CQRS_CORE_OPTIONS,
  type CqrsCoreModuleOptions,
  HEALTH_PROBES,
  METRICS_REGISTRY,
} from '@causeway/cqrs-core/nest';
import { type Registry } from 'prom-client';
import {
  TRAINER_MODULE_OPTIONS,
  TRAINER_READY,
  type Readiness,
  type TrainerModuleOptions,
} from '../trainer/trainer.module-options';
import { TRAINER_EVENT_TYPES } from '../trainer/trainer.decider';
import { registerForwarderMetrics } from './forwarder.metrics';

/**
 * The outbox of trainer-service (ADR 005): forwards the trainer's events (TRAINER_EVENT_TYPES)
 * appended to the event store to the event bus (`events.<Type>`); other types are not its own. Each instance publishes its own appends at once (eager
 * forwarding, through `eager(store)`); the rounds that catch the rest run on one instance at a
 * time when a lease is configured.
 */
@Injectable()
export class TrainerOutbox implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('TrainerOutbox');
  private readonly supervisor: LeaseSupervisor;
  private readonly forwarder: EventForwarder;
  private stopped = false;

  constructor(
    @Inject(TRAINER_MODULE_OPTIONS) options: TrainerModuleOptions,
    @Inject(TRAINER_READY) private readonly ready: Readiness,
    @Inject(BUS_PUBLISHER) publisher: Publisher,
    @Inject(CQRS_CORE_OPTIONS) cqrs: CqrsCoreModuleOptions,
    @Optional() @Inject(METRICS_REGISTRY) registry?: Registry,
    @Optional() @Inject(HEALTH_PROBES) probes?: HealthProbe[],
  ) {
    const naming = topicNaming(cqrs.topicPrefix);
    const forwarder = (this.forwarder = new EventForwarder({
      store: options.eventStore,
      publisher,
      checkpoints: options.forwarder.checkpoints,
      topicOf: (event) => naming.event(event.type),
      // Only the trainer's own events (defence in depth): order-processor's progress once shared
      // this log, and its forwarder published every ProgressEvent to a Redis stream no one read,
      // kept there after PROGRESS_HISTORY_TTL_MS deleted the history (a review, session 39).
      types: TRAINER_EVENT_TYPES,
      name: options.forwarder.name ?? 'trainer-service.forwarder',
      pollIntervalMs: options.forwarder.pollIntervalMs,
      // A round reads until a batch is not full. On FerretDB every read scans the whole commit
      // collection whatever its limit (ADR 006), so at 200 moves/s a round of 256-event reads
      // made two scans every 2 s; one read of up to 1 000 makes one.
      batchSize: 1_000,
      ledger: options.forwarder.ledger,
      serializer: cqrs.serializer,
      onError: (error) => this.logger.warn(`forwarding failed: ${(error as Error).message}`),
    }));
    this.supervisor = new LeaseSupervisor({
      lease: options.forwarder.lease,
      start: () => forwarder.start(),
      stop: () => forwarder.stop(),
      onChange: ({ holding }) =>
        this.logger.log(
          holding ? 'took the forwarder lease: forwarding' : 'lost the forwarder lease',
        ),
      onError: (error) => this.logger.warn(`forwarder lease: ${(error as Error).message}`),
    });
    if (registry) registerForwarderMetrics(registry, forwarder, () => this.supervisor.holding);
    // Not critical: a blocked outbox is no reason to stop taking commands; /health shows it
    // (degraded) with the event and the reason. Only the lease holder runs rounds, so only it
    // can be blocked (a forwarder stopped on losing the lease is not).
    probes?.push(forwarderProbe(forwarder));
  }

  /** `store` with eager forwarding: what is appended through it is published right away. */
  eager(store: EventStore): EventStore {
    return new EagerForwardingStore(store, this.forwarder);
  }

  onApplicationBootstrap(): void {
    void this.ready.promise.then(
      () => {
        if (!this.stopped) this.supervisor.start();
      },
      () => undefined,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.supervisor.stop();
  }
}
