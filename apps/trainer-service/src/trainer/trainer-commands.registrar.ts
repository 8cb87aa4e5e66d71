import { Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import {
  CommandBus,
  CommandExpiredError,
  DeadLettered,
  DomainError,
  type Delivery,
  type Envelope,
  type HealthProbe,
  type Middleware,
  Refusal,
  runInMessageContext,
} from '@causeway/cqrs-core';
import { HEALTH_PROBES } from '@causeway/cqrs-core/nest';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import {
  type CommandOutcome,
  TRAINER_COMMANDS,
  TrainerCommandHandler,
} from './trainer.command-handler';
import {
  type Readiness,
  TRAINER_MODULE_OPTIONS,
  TRAINER_READY,
  type TrainerModuleOptions,
} from './trainer.module-options';

/** Recording a dead-lettered command's rejection: 4 attempts, about 100, 400, 1 600 ms apart (jittered). */
const recording = retry(handleAll, {
  maxAttempts: 3, // retries after the first attempt
  backoff: new ExponentialBackoff({ initialDelay: 100, exponent: 4, maxDelay: 1_600 }),
});

/**
 * Registers the trainer's command handler with the (global) command bus. It gets a dead-letter
 * hook outside the router's stack: a command whose handling failed for good (retries spent, or an
 * error no retry can fix) was dead-lettered and acknowledged, and still ends as `rejected`.
 * Likewise an expiry hook: a command whose deadline passed before it reached the handler (the
 * bus answers a Refusal with a CommandExpiredError, acknowledged, not dead-lettered) ends as
 * `rejected` with `expired: …` as the reason, and is never applied.
 *
 * Recording that rejection is tried a few times (~2 s). If it still fails, the command is
 * acknowledged anyway and the failure logged: the dead letter holds the command and its reason
 * (a replay records it again). Leaving it unacknowledged would redeliver it about once a second,
 * dead-letter it again each time and hold back the later commands of its trainer.
 *
 * The handler joins the command topic's consumer group only once the stores are ready
 * (TRAINER_READY). Joining takes a share of the partitions away from the instances already
 * running, so an instance starting under load whose stores were still initialising (connecting,
 * listing and creating indexes) took commands it could only defer, redelivered once a second
 * until its stores were ready: a rolling restart delayed a share of the commands by as long as
 * that took. Until then the `trainer-commands` readiness probe is down.
 */
@Injectable()
export class TrainerCommandsRegistrar implements OnModuleInit {
  private readonly logger = new Logger('TrainerCommands');

  constructor(
    private readonly commandBus: CommandBus,
    @Inject(TrainerCommandHandler) private readonly handler: TrainerCommandHandler,
    @Inject(TRAINER_MODULE_OPTIONS) private readonly options: TrainerModuleOptions,
    @Inject(TRAINER_READY) private readonly ready: Readiness,
    @Optional()
    @Inject(HEALTH_PROBES)
    private readonly probes?: HealthProbe[],
  ) {}

  /** Why the handler is not registered yet; undefined once it is. */
  private notTaking: string | undefined = 'not taking commands yet: the stores are not ready';

  onModuleInit(): void {
    this.probes?.push({
      name: 'trainer-commands',
      check: async () => {
        if (this.notTaking !== undefined) throw new Error(this.notTaking);
      },
    });
    // A handler added to a running router is subscribed in the background (its `bus` probe is
    // down until that is done); added before, it is subscribed when the router runs.
    void this.ready.promise.then(() => {
      try {
        this.register();
        this.notTaking = undefined;
        // The router logs its handlers when it starts, which may be before this one joins.
        this.logger.log(`taking ${TRAINER_COMMANDS.join(' and ')}: the stores are ready`);
      } catch (error) {
        this.notTaking = `cannot take commands: ${(error as Error)?.message ?? String(error)}`;
        this.logger.error(this.notTaking);
      }
    });
  }

  /**
   * The handler's outcome; a rejection (unknown trainer, invalid state) as a Refusal, so that
   * metrics count it `refused` and its trace span says `refused` rather than `success`. It is
   * acknowledged all the same, its status recorded by the handler.
   */
  private async answer(command: Envelope): Promise<unknown> {
    const outcome = await this.handler.handle(command);
    if (outcome.status !== 'rejected') return outcome;
    // What an operator greps for when a user says their moves do nothing.
    this.logger.log({
      msg: `rejected ${command.type} ${command.messageId} for trainer ${command.aggregateId}: ${outcome.reason ?? 'rejected'}`,
      commandIds: [command.messageId],
      userId: command.metadata.issuerId,
    });
    return new Refusal(new TrainerCommandRejected(outcome.reason ?? 'rejected'));
  }

  private register(): void {
    // Both run outside the handler's message context (the router enters it innermost): their
    // lines are logged in it, so they carry the command's id, correlation and trace ids.
    const recordDeadLetters: Middleware = (next) => async (delivery) => {
      const result = await next(delivery);
      if (!(result instanceof DeadLettered)) return result;
      return runInMessageContext(delivery.envelope, async () => {
        this.logger.warn(
          `${delivery.envelope.type} ${delivery.envelope.messageId} failed for good: ${(result.error as Error)?.message}`,
        );
        await this.recordRejection(delivery.envelope, result.error);
        return result;
      });
    };
    const recordExpiries: Middleware = (next) => async (delivery) => {
      const result = await next(delivery);
      if (!(result instanceof Refusal && result.error instanceof CommandExpiredError))
        return result;
      const expiry = result.error;
      return runInMessageContext(delivery.envelope, async () => {
        this.logger.warn(expiry.message);
        const outcome = await this.recordExpiry(delivery, expiry);
        // Applied by an attempt before a crash after all: answer what happened.
        return outcome?.status === 'processed' ? outcome : result;
      });
    };
    // One handler for all the trainer's commands: with the platform's COMMAND_TOPICS they share
    // `commands.Trainer`, so one consumer group handles a trainer's commands in send order
    // whatever their type (a move, then the group join sent right after it).
    this.commandBus.handle(TRAINER_COMMANDS, (command) => this.answer(command), {
      name: TrainerCommandHandler.name,
      outerMiddleware: [recordDeadLetters, recordExpiries],
      // Idempotent by itself (TrainerCommandHandler): a redelivered or concurrent duplicate
      // appends the same event ids at the same version, so all but one lose the append and
      // find the command done on reload; status and notifications keep the first. The
      // deduplicator's claim would only add two Redis round trips to every command.
      idempotent: true,
      // Commands left in the per-type topics of before (ADR 007, session 9 addendum).
      drainOwnTopics: this.options.drainOwnCommandTopics ?? true,
    });
  }

  /** Like recordRejection: tried a few times, then acknowledged and logged (status `accepted`). */
  private async recordExpiry(
    delivery: Delivery,
    error: CommandExpiredError,
  ): Promise<CommandOutcome | undefined> {
    const { envelope } = delivery;
    try {
      return await recording.execute(() => this.handler.expired(envelope, error, delivery));
    } catch (failure) {
      this.logger.error(
        `${envelope.type} ${envelope.messageId}: its expiry could not be recorded ` +
          `(${(failure as Error)?.message}); acknowledged, this delivery applied nothing`,
      );
      return undefined;
    }
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

/** A trainer command the domain refused (the reason is the command status's). */
class TrainerCommandRejected extends DomainError {}
