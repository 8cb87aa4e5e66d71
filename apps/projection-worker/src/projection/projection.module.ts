import { type DynamicModule, Module } from '@nestjs/common';
import { CatchUpProgressLog } from './catch-up.progress';
import { reportSkips } from './catch-up.skips';
import { ProjectionLifecycle, projectionLogger } from './projection.lifecycle';
import {
  PROJECTION_MODULE_OPTIONS,
  type ProjectionModuleOptions,
} from './projection.module-options';
import { ProjectionRunner, StoresNotReadyError } from './projection.runner';
import { TrainerEventsHandler } from './trainer-events.handler';

/**
 * The read models of the live trainer flow (TrainerPositions, GroupMembers) and the position
 * notifier, as a feature module. Needs the global CqrsCoreModule (event bus); everything else
 * comes in through the options, so the same module runs in the projection-worker app (MongoDB,
 * Redis) and in the embedded mode (in-memory).
 */
@Module({})
export class ProjectionModule {
  static forRoot(options: ProjectionModuleOptions): DynamicModule {
    return {
      module: ProjectionModule,
      providers: [
        { provide: PROJECTION_MODULE_OPTIONS, useValue: options },
        {
          provide: ProjectionRunner,
          useFactory: () =>
            new ProjectionRunner({
              ...options,
              onError: (error) =>
                projectionLogger.warn(
                  error instanceof StoresNotReadyError
                    ? `${error.message}; retrying`
                    : `catch-up failed: ${(error as Error)?.message}`,
                ),
              onSkipped: reportSkips(options.registry, options.maxAttempts ?? 5),
              onProgress: new CatchUpProgressLog((line) => projectionLogger.log(line)).report,
              onLost: ({ saved, found, noticedBy, rebuildElsewhere }) =>
                projectionLogger.warn(
                  (rebuildElsewhere
                    ? `read models lost: another instance's rebuild of them is unfinished ` +
                      `(its mark found by ${noticedBy}; checkpoint ${found}); this instance ` +
                      `finishes it from there;`
                    : `read models lost: the projection checkpoint went back from ${saved} to ` +
                      `${found} (noticed by ${noticedBy}; Redis emptied?);`) +
                    ` live events deferred while they are rebuilt from the event store`,
                ),
              onCaughtUp: (events) =>
                projectionLogger.log(`read models caught up (${events} events); live from the bus`),
            }),
        },
        TrainerEventsHandler,
        ProjectionLifecycle,
      ],
      exports: [ProjectionRunner],
    };
  }
}
