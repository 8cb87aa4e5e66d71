import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { CommandBus, DeadLettered, type Envelope, type Middleware } from '@causeway/cqrs-core';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import { TRAINER_COMMANDS, TrainerCommandHandler } from './trainer.command-handler';
import { TRAINER_MODULE_OPTIONS, type TrainerModuleOptions } from './trainer.module-options';

/** Recording a dead-lettered command's rejection: 4 attempts, about 100, 400, 1 600 ms apart (jittered). */
const recording = retry(handleAll, {
  maxAttempts: 3, // retries after the first attempt
  backoff: new ExponentialBackoff({ initialDelay: 100, exponent: 4, maxDelay: 1_600 }),
});

/**
 * Registers the trainer's command handler with the (global) command bus. It gets a dead-letter
 * hook outside the router's stack: a command whose handling failed for good (retries spent, or an
 * error no retry can fix) was dead-lettered and acknowledged, and still ends as `rejected`.
 *
 * Recording that rejection is tried a few times (~2 s). If it still fails, the command is
 * acknowledged anyway and the failure logged: the dead letter holds the command and its reason
 * (a replay records it again). Leaving it unacknowledged would redeliver it about once a second,
 * dead-letter it again each time and hold back the later commands of its trainer.
 */
@Injectable()
export class TrainerCommandsRegistrar implements OnModuleInit {
  private readonly logger = new Logger('TrainerCommands');

  constructor(
    private readonly commandBus: CommandBus,
    @Inject(TrainerCommandHandler) private readonly handler: TrainerCommandHandler,
    @Inject(TRAINER_MODULE_OPTIONS) private readonly options: TrainerModuleOptions,
  ) {}

  onModuleInit(): void {
    const recordDeadLetters: Middleware = (next) => async (delivery) => {
      const result = await next(delivery);
      if (result instanceof DeadLettered) {
        this.logger.warn(
          `${delivery.envelope.type} ${delivery.envelope.messageId} failed for good: ${(result.error as Error)?.message}`,
        );
        await this.recordRejection(delivery.envelope, result.error);
      }
      return result;
    };
    // One handler for all the trainer's commands: with the platform's COMMAND_TOPICS they share
    // `commands.Trainer`, so one consumer group handles a trainer's commands in send order
    // whatever their type (a move, then the group join sent right after it).
    this.commandBus.handle(TRAINER_COMMANDS, (command) => this.handler.handle(command), {
      name: TrainerCommandHandler.name,
      outerMiddleware: [recordDeadLetters],
      // Idempotent by itself (TrainerCommandHandler): a redelivered or concurrent duplicate
      // appends the same event ids at the same version, so all but one lose the append and
      // find the command done on reload; status and notifications keep the first. The
      // deduplicator's claim would only add two Redis round trips to every command.
      idempotent: true,
      // Commands left in the per-type topics of before (ADR 007, session 9 addendum).
      drainOwnTopics: this.options.drainOwnCommandTopics ?? true,
    });
  }

  private async recordRejection(envelope: Envelope, error: unknown): Promise<void> {
    try {
      await recording.execute(() => this.handler.deadLettered(envelope, error));
    } catch (failure) {
      this.logger.error(
        `${envelope.type} ${envelope.messageId}: its rejection could not be recorded ` +
          `(${(failure as Error)?.message}); it stays in the dead letters, acknowledged`,
      );
    }
  }
}
