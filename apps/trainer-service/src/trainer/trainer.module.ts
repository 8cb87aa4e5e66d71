import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { PositionNotifier } from '@causeway/platform';
import { METRICS_REGISTRY } from '@causeway/cqrs-core/nest';
import { registeredCounter } from '@causeway/cqrs-core';
import { type Registry } from 'prom-client';
import { TrainerOutbox } from '../outbox/trainer-outbox.service';
import { TrainerCommandHandler } from './trainer.command-handler';
import { TrainerCommandsRegistrar } from './trainer-commands.registrar';
import { DEFAULT_MAX_GROUPS } from './trainer.decider';
import {
  TRAINER_MODULE_OPTIONS,
  TRAINER_READY,
  type Readiness,
  type TrainerModuleOptions,
} from './trainer.module-options';

/**
 * The trainer write model as a feature module: handles MoveTrainerCommand and ChangeGroupCommand
 * from the command bus and forwards the trainer's events to the event bus. Needs the global
 * CqrsCoreModule (command bus, bus publisher); everything else comes in through the options, so
 * the same module runs in the trainer-service app (MongoDB, Redis) and in the embedded mode
 * (in-memory).
 */
@Module({})
export class TrainerModule {
  static forRoot(options: TrainerModuleOptions): DynamicModule {
    return {
      module: TrainerModule,
      providers: [
        { provide: TRAINER_MODULE_OPTIONS, useValue: options },
        {
          provide: TRAINER_READY,
          // Wrapped: Nest would await a promise returned by a factory, and readiness needs the
          // connections that only open after the modules are created.
          useFactory: (): Readiness => ({
            promise: untilReady(
              options.ready ??
                (async () => {
                  await options.eventStore.init();
                  await options.snapshots?.init();
                }),
            ),
          }),
        },
        {
          provide: TrainerCommandHandler,
          inject: [TRAINER_READY, TrainerOutbox, { token: METRICS_REGISTRY, optional: true }],
          useFactory: (
            { promise: ready }: Readiness,
            outbox: TrainerOutbox,
            registry: Registry | undefined,
          ) =>
            new TrainerCommandHandler({
              serverId: options.serverId,
              // Appends go out to the bus right after they are made (eager forwarding).
              eventStore: outbox.eager(options.eventStore),
              snapshots: options.snapshots,
              commandStatus: options.commandStatus,
              notifications: options.notifications,
              eagerNotifications: options.eagerNotifications && {
                notifier: new PositionNotifier(
                  options.eagerNotifications.groups,
                  options.notifications,
                  options.serverId,
                ),
                onError: (error) =>
                  new Logger('TrainerCommandHandler').warn(
                    `eager notification failed, projection-worker delivers it; fast path paused: ${(error as Error)?.message ?? String(error)}`,
                  ),
              },
              // The eager path's read models: joins, leaves and first moves are written through.
              groupMembers: options.eagerNotifications && {
                groups: options.eagerNotifications.groups,
                positions: options.eagerNotifications.positions,
                onError: writeThroughFailed(registry),
              },
              speed: options.speed ?? 100,
              maxGroups: options.maxGroups ?? DEFAULT_MAX_GROUPS,
              groupLimit: options.groupLimit,
              snapshotEvery: options.snapshotEvery ?? 50,
              ...(options.now && { now: options.now }),
              clockSkewMs: options.clockSkewMs ?? 0,
              ready,
              // Commands come over Redis Streams (the in-memory broker embedded): a delivery
              // after a crash is attempt 2 or more there.
              countsRedeliveries: true,
            }),
        },
        TrainerCommandsRegistrar,
        TrainerOutbox,
      ],
      exports: [TrainerCommandHandler],
    };
  }
}

/** Logs and counts a failed write-through (projection-worker applies the change later). */
function writeThroughFailed(registry: Registry | undefined): (error: unknown) => void {
  const logger = new Logger('TrainerCommandHandler');
  const failures =
    registry &&
    registeredCounter(registry, {
      name: WRITE_THROUGH_FAILURES,
      help: 'Group joins and leaves, and first moves, not written through to the read models (projection-worker applies them later)',
    });
  return (error) => {
    failures?.inc();
    logger.warn(
      `read-model write-through failed, projection-worker applies it: ${(error as Error)?.message ?? String(error)}`,
    );
  };
}

const WRITE_THROUGH_FAILURES = 'causeway_trainer_group_write_through_failures_total';

/** Runs `ready` until it succeeds (a server may be down at start-up), with capped backoff. */
async function untilReady(ready: () => Promise<void>): Promise<void> {
  const logger = new Logger('TrainerModule');
  for (let attempt = 1; ; attempt++) {
    try {
      await ready();
      return;
    } catch (error) {
      const delay = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
      logger.warn(`stores not ready (${(error as Error).message}); retrying in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }
}
