import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CHANGE_GROUP_COMMAND,
  type ChangeGroupCommand,
  type CommandStatus,
  MOVE_TRAINER_COMMAND,
  type MoveTrainerCommand,
} from '@causeway/contracts';
import { CommandBus, MessageFactory, withDeadline } from '@causeway/cqrs-core';
import { isRedisCommandNotSent } from '@causeway/cqrs-core/redis';
import { type Caller, TokenService } from '@causeway/platform';
import {
  COMMAND_API_OPTIONS,
  type CommandApiOptions,
  DEFAULT_COMMAND_DEADLINE_MS,
} from '../command-api.options';
import {
  CommandRefusedError,
  CommandUnconfirmedError,
  ForbiddenTrainerError,
  NotFoundError,
  StatusUnavailableError,
  type TrainerAct,
  ValidationError,
} from '../errors/command-api.errors';
import { noteAcceptedCommand } from '../http/accepted-commands';
import { idempotentAcceptedAt, idempotentCommandId } from '../idempotency/idempotent-command-ids';
import { type Accepted } from './command.schemas';

/**
 * Turns validated requests into commands: checks the caller may act on the trainer, records
 * the command as accepted and sends it (fire and forget — the answer never waits for the
 * handler). Recording and sending are in flight together, one round trip instead of two: the
 * status store's `accepted` never overwrites an outcome, so a handler that finishes first is not
 * hidden. If only recording failed the command is on its way, so the caller gets its answer (the
 * outcome is still recorded). If sending fails the caller gets 503, which says which of two it is:
 * - refused: the bus certainly did not send it (the Redis connection never wrote it, and never
 *   will — redisConnection drops failed commands): recorded `rejected`, a retry is safe;
 * - unconfirmed: anything else, e.g. a reply that timed out after the XADD was written — it may
 *   have been executed. Not recorded `rejected` (it may still run: its status stays `accepted`
 *   until its handler records the outcome); the 503 names the command id. With an
 *   Idempotency-Key the id derives from the key (idempotentCommandId), so a retry sends the same
 *   command and its handler executes it at most once.
 *
 * A move carries a deadline (`commandDeadlineMs` after it was accepted): if it has not reached
 * trainer-service by then (a stalled bus, a restart, a backlog), it ends `rejected` as expired
 * instead of moving the trainer long after the key was pressed. A keyed request's commands are
 * accepted when its key's first attempt was (idempotentAcceptedAt): a retry after a 503 sends
 * the same command with the same timestamp and deadline, so its outcome is the first copy's.
 */
@Injectable()
export class CommandService {
  private readonly logger = new Logger(CommandService.name);
  private readonly messages: MessageFactory;
  private readonly now: () => number;

  constructor(
    @Inject(COMMAND_API_OPTIONS) private readonly options: CommandApiOptions,
    private readonly commandBus: CommandBus,
  ) {
    const clock = options.clock;
    this.now = clock ? () => clock.now() : Date.now;
    this.messages = new MessageFactory({ now: () => new Date(this.now()) });
  }

  async move(
    caller: Caller,
    input: Omit<MoveTrainerCommand, 'timestamp'> & { timestamp?: number },
  ): Promise<Accepted> {
    // Taken before anything can refuse the call: a keyed request's calls keep their positions
    // whatever is refused (a retry under another token may be allowed what this one was not).
    const id = idempotentCommandId();
    // The trainer would refuse it: say so now (422 / -32602) rather than send a doomed command.
    if (input.action === 'start' && input.directionX === 0 && input.directionY === 0)
      throw new ValidationError([
        {
          field: 'directionX',
          message: 'must not be 0 when directionY is 0 (starting needs a direction)',
        },
      ]);
    this.authorize(caller, input.trainerId);
    const data: MoveTrainerCommand = {
      trainerId: input.trainerId,
      directionX: input.directionX,
      directionY: input.directionY,
      action: input.action,
      timestamp: input.timestamp ?? idempotentAcceptedAt() ?? this.now(),
    };
    const deadlineMs = this.options.commandDeadlineMs ?? DEFAULT_COMMAND_DEADLINE_MS;
    return this.send(
      caller,
      MOVE_TRAINER_COMMAND,
      data.trainerId,
      data,
      deadlineMs > 0 ? deadlineMs : undefined,
      id,
    );
  }

  async changeGroup(
    caller: Caller,
    input: { trainerId: string; groupId: string; timestamp?: number },
    action: ChangeGroupCommand['action'],
  ): Promise<Accepted> {
    const id = idempotentCommandId(); // first: see move
    this.authorize(caller, input.trainerId, { action, groupId: input.groupId });
    const data: ChangeGroupCommand = {
      trainerId: input.trainerId,
      groupId: input.groupId,
      action,
      timestamp: input.timestamp ?? idempotentAcceptedAt() ?? this.now(),
    };
    return this.send(caller, CHANGE_GROUP_COMMAND, data.trainerId, data, undefined, id);
  }

  /** The status of one of the caller's commands; someone else's is "not found", never leaked. */
  /** A command's status; its id is a UUID, read case-insensitively (RFC 9562). */
  async status(caller: Caller, commandId: string): Promise<CommandStatus> {
    const status = await this.anyStatus(commandId);
    if (status.issuerId !== caller.userId) throw new NotFoundError(`no command ${commandId}`);
    return status;
  }

  /** Any user's command status (operators: AdminCommandsController). */
  async anyStatus(commandId: string): Promise<CommandStatus> {
    let status: CommandStatus | undefined;
    try {
      status = await this.options.commandStatus.get(commandId.toLowerCase());
    } catch (error) {
      this.logger.warn(`command status not read: ${(error as Error)?.message ?? String(error)}`);
      throw new StatusUnavailableError();
    }
    if (!status) throw new NotFoundError(`no command ${commandId}`);
    return status;
  }

  /** Refuses (403) a command for a trainer the caller may not command, naming `act` (default: a move). */
  authorize(caller: Caller, trainerId: string, act: TrainerAct = 'move'): void {
    if (!TokenService.mayMove(caller, trainerId))
      throw new ForbiddenTrainerError(caller.userId, trainerId, act);
  }

  private async send(
    caller: Caller,
    type: string,
    trainerId: string,
    data: unknown,
    deadlineMs: number | undefined,
    // Taken by the caller before anything could refuse the call: a keyed request's calls get
    // their ids by position, refused or not (a refused one must not shift the next one's).
    id: string | undefined,
  ): Promise<Accepted> {
    // Before anything is recorded or sent: a refused command leaves no trace (a retry is safe).
    this.options.backlog?.admit(this.commandBus.topicOf(type), this.commandBus.groupOf(type));
    // A retry of a keyed request: created when the first attempt was, so with its deadline.
    const firstAccepted = idempotentAcceptedAt();
    const messages =
      id === undefined
        ? this.messages
        : new MessageFactory({
            newId: () => id,
            ...(firstAccepted !== undefined && { now: () => new Date(firstAccepted) }),
          });
    const created = messages.command(type, data, {
      aggregateId: trainerId,
      aggregateType: 'Trainer',
      causedBy: null,
      metadata: {
        issuerId: caller.userId,
        issuerType: 'user',
        acceptedBy: this.options.serverId,
      },
    });
    // `deadlineMs` after its creation (the first attempt's, for a keyed retry): in its status too.
    const command = deadlineMs === undefined ? created : withDeadline(created, deadlineMs);
    const acceptedAt = command.metadata.timestamp;
    const deadline = command.metadata.deadline as string | undefined;
    const [recorded, sent] = await Promise.allSettled([
      this.options.commandStatus.accepted({
        commandId: command.messageId,
        type,
        issuerId: caller.userId,
        acceptedAt,
        ...(deadline !== undefined && { deadline }),
      }),
      this.commandBus.send(command),
    ]);
    if (recorded.status === 'rejected' && sent.status === 'fulfilled')
      this.logger.warn(
        `could not record ${type} ${command.messageId} as accepted (it was sent; its outcome will be recorded): ${(recorded.reason as Error)?.message}`,
      );
    // A bus that is down is expected: one warn line per command, without a stack.
    if (sent.status === 'rejected' && !isRedisCommandNotSent(sent.reason)) {
      this.logger.warn(
        `the bus did not confirm ${type} ${command.messageId} (it may have been sent): ${(sent.reason as Error)?.message}`,
      );
      throw new CommandUnconfirmedError(type, command.messageId, id !== undefined);
    }
    if (sent.status === 'rejected') {
      this.logger.warn(
        `the bus refused ${type} ${command.messageId}: ${(sent.reason as Error)?.message}`,
      );
      // Certainly not sent; the id never reached the caller: record the truth for the logs' sake.
      // Not for a keyed request: its retry sends this very id again, and a `rejected` recorded
      // now would win over the retry's `accepted` and its handler's outcome (first wins).
      if (id === undefined)
        await this.options.commandStatus
          .complete({
            commandId: command.messageId,
            type,
            issuerId: caller.userId,
            status: 'rejected',
            completedAt: new Date(this.now()).toISOString(),
            reason: 'the command bus did not accept the command',
          })
          .catch(() => undefined);
      throw new CommandRefusedError(type);
    }
    // Named on the request's access line; a request without one (behind Express: group
    // changes) gets a line of its own, so that every accepted command can be traced to its user.
    if (!noteAcceptedCommand(command.messageId, caller.userId))
      this.logger.log({
        msg: `accepted ${type} ${command.messageId} for trainer ${trainerId}`,
        commandIds: [command.messageId],
        userId: caller.userId,
      });
    return { status: 'accepted', commandId: command.messageId, timestamp: acceptedAt };
  }
}
