import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { CommandBus, DeadLettered, type Middleware } from '@causeway/cqrs-core';
import { TRAINER_COMMANDS, TrainerCommandHandler } from './trainer.command-handler';

/**
 * Registers the trainer's command handlers with the (global) command bus. Each gets a dead-letter
 * hook outside the router's stack: a command whose handling failed for good (retries spent, or an
 * error no retry can fix) was dead-lettered and acknowledged, and still ends as `rejected`.
 */
@Injectable()
export class TrainerCommandsRegistrar implements OnModuleInit {
  private readonly logger = new Logger('TrainerCommands');

  constructor(
    private readonly commandBus: CommandBus,
    @Inject(TrainerCommandHandler) private readonly handler: TrainerCommandHandler,
  ) {}

  onModuleInit(): void {
    const recordDeadLetters: Middleware = (next) => async (delivery) => {
      const result = await next(delivery);
      if (result instanceof DeadLettered) {
        this.logger.warn(
          `${delivery.envelope.type} ${delivery.envelope.messageId} failed for good: ${(result.error as Error)?.message}`,
        );
        // If this throws, the command stays unacknowledged and comes back: nothing is lost.
        await this.handler.deadLettered(delivery.envelope, result.error);
      }
      return result;
    };
    for (const type of TRAINER_COMMANDS) {
      this.commandBus.handle(type, (command) => this.handler.handle(command), {
        outerMiddleware: [recordDeadLetters],
        // Idempotent by itself (TrainerCommandHandler): a redelivered or concurrent duplicate
        // appends the same event ids at the same version, so all but one lose the append and
        // find the command done on reload; status and notifications keep the first. The
        // deduplicator's claim would only add two Redis round trips to every command.
        idempotent: true,
      });
    }
  }
}
