import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type Envelope } from '../messages/envelope';
import { type SerializerRegistry } from '../messages/serializer.registry';
import { DeadLettered } from '../middleware/dead-letter.middleware';
import { type Middleware } from '../router/handler';
import { type Router } from '../router/router';
import { type TopicNaming } from '../transport/topic.naming';
import { type Delivery, type Publisher } from '../transport/transport.port';
import { MessageTooLargeError, MessageValidationError } from '../messages/message.errors';
import {
  CommandRejectedError,
  CommandTimeoutError,
  DuplicateHandlerError,
  ReplyNotSentError,
} from './bus.errors';

export const COMMAND_REPLY = 'CommandReply';
const REPLIES_HANDLER = 'command-replies';
const CommandReply = z.object({
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.object({ name: z.string(), message: z.string() }).optional(),
});
type CommandReply = z.infer<typeof CommandReply>;

export interface CommandBusOptions {
  publisher: Publisher;
  router: Router;
  naming: TopicNaming;
  /** The command reply type is registered here. */
  serializer: SerializerRegistry;
  /** This instance: replies to its requests come to `naming.reply(instanceId)`. */
  instanceId: string;
  /** S0-9 command timeout. Default 30 s. */
  timeoutMs?: number;
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Commands: exactly one handler per type across the deployment (S0-1) — every handler of a
 * type joins the competing group `commands.<Type>`, so each command is handled once.
 * `send` resolves once the broker accepted the command; `request` also awaits the handler's
 * result or its final error (after retries / dead letter), up to the timeout.
 */
export class CommandBus {
  /** Command type → the name of its handler (undefined when it has none). */
  private readonly handled = new Map<string, string | undefined>();
  private readonly waiting = new Map<string, Waiting>();
  private repliesRegistered = false;

  constructor(private readonly options: CommandBusOptions) {
    if (!options.serializer.has(COMMAND_REPLY))
      options.serializer.register(COMMAND_REPLY, CommandReply);
  }

  /**
   * Registers the handler of a command type; its resolved value is the reply's result.
   * `middleware` runs inside the router's stack (within retry); `outerMiddleware` runs outside
   * it, inside the replier, and sees the final outcome — e.g. a `DeadLettered` result after the
   * retries were spent, to record that the command failed for good.
   * @throws DuplicateHandlerError when the type already has a handler, naming both when known
   */
  handle<Data = unknown>(
    type: string,
    handler: (command: Envelope<Data>, delivery: Delivery) => Promise<unknown> | unknown,
    options: {
      maxInFlight?: number;
      middleware?: readonly Middleware[];
      outerMiddleware?: readonly Middleware[];
      /** See HandlerRegistration.idempotent: no deduplication claim for its deliveries. */
      idempotent?: boolean;
      /** Who handles it (e.g. its class), named by DuplicateHandlerError. Default the function's name. */
      name?: string;
    } = {},
  ): this {
    const name = options.name ?? (handler.name || undefined);
    if (this.handled.has(type))
      throw new DuplicateHandlerError(type, {
        kind: 'command',
        registered: this.handled.get(type),
        duplicate: name,
      });
    this.handled.set(type, name);
    this.options.router.addHandler({
      name: `commands.${type}`,
      group: `commands.${type}`,
      topics: [this.options.naming.command(type)],
      maxInFlight: options.maxInFlight,
      middleware: options.middleware,
      outerMiddleware: [this.replier(), ...(options.outerMiddleware ?? [])],
      handle: async (delivery) => handler(delivery.envelope as Envelope<Data>, delivery),
      ...(options.idempotent && { idempotent: true }),
    });
    return this;
  }

  /** Publishes a command; resolves once the broker accepted it. */
  async send(command: Envelope): Promise<void> {
    await this.options.publisher.publish(this.options.naming.command(command.type), [command]);
  }

  /**
   * Publishes a command and resolves with its handler's result.
   * @throws CommandRejectedError when the handler failed for good
   * @throws CommandTimeoutError when no reply came within the timeout
   */
  async request<Result = unknown>(
    command: Envelope,
    options: { timeoutMs?: number } = {},
  ): Promise<Result> {
    this.ensureRepliesSubscribed();
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const timedOut = () => new CommandTimeoutError(command.messageId, command.type, timeoutMs);
    // The reply group must exist before the command leaves, or a fast reply is missed. Waiting
    // for it counts against the timeout: a router not running yet, or a broker away at start-up,
    // ends in CommandTimeoutError (nothing was sent), not a hang.
    if (!(await this.options.router.subscribed(REPLIES_HANDLER, { timeoutMs }))) throw timedOut();
    const replyTo = this.options.naming.reply(this.options.instanceId);
    const outcome = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.waiting.delete(command.messageId);
          reject(timedOut());
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiting.set(command.messageId, { resolve, reject, timer });
    });
    try {
      await this.send({ ...command, metadata: { ...command.metadata, replyTo } });
    } catch (error) {
      const waiting = this.waiting.get(command.messageId);
      if (waiting) clearTimeout(waiting.timer);
      this.waiting.delete(command.messageId);
      throw error;
    }
    return outcome as Promise<Result>;
  }

  /** Rejects every request still waiting (shutdown). */
  close(): void {
    for (const [id, waiting] of this.waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error(`command bus closed while waiting for ${id}`));
    }
    this.waiting.clear();
  }

  /** Subscribes this instance to its replies (lazily on the first request; call it before run() to subscribe up front). */
  ensureRepliesSubscribed(): void {
    if (this.repliesRegistered) return;
    this.repliesRegistered = true;
    this.options.router.addHandler({
      name: REPLIES_HANDLER,
      mode: 'fan-out',
      startFrom: 'latest',
      topics: [this.options.naming.reply(this.options.instanceId)],
      handle: async (delivery) => {
        const causationId = delivery.envelope.metadata.causationId;
        const waiting = causationId ? this.waiting.get(causationId) : undefined;
        if (!waiting) return; // late reply after a timeout, or for another incarnation
        this.waiting.delete(causationId!);
        clearTimeout(waiting.timer);
        const reply = delivery.envelope.data as CommandReply;
        if (reply.ok) waiting.resolve(reply.result);
        else
          waiting.reject(
            new CommandRejectedError(
              causationId!,
              reply.error?.name ?? 'Error',
              reply.error?.message ?? 'rejected',
            ),
          );
      },
    });
  }

  /** Outermost middleware of command handlers: publishes the final outcome to `replyTo`. */
  private replier(): Middleware {
    return (next) => async (delivery) => {
      const result = await next(delivery);
      const replyTo = delivery.envelope.metadata.replyTo;
      if (typeof replyTo !== 'string') return result;
      const data: CommandReply =
        result instanceof DeadLettered
          ? { ok: false, error: errorOf(result.error) }
          : { ok: true, result };
      const reply = (data: CommandReply): Envelope => ({
        messageId: randomUUID(),
        type: COMMAND_REPLY,
        aggregateId: delivery.envelope.aggregateId,
        aggregateType: delivery.envelope.aggregateType,
        version: 0,
        data,
        metadata: {
          timestamp: new Date().toISOString(),
          category: 'reply',
          causationId: delivery.envelope.messageId,
          correlationId: delivery.envelope.metadata.correlationId ?? delivery.envelope.messageId,
        },
      });
      try {
        await this.options.publisher.publish(replyTo, [reply(data)]);
      } catch (error) {
        // A result that cannot be sent (too large, not serializable) never will be: redelivering
        // the command would run its handler again and again. The sender gets that error instead;
        // anything else (the broker is away) fails the delivery, which is tried again.
        if (
          !data.ok ||
          !(error instanceof MessageTooLargeError || error instanceof MessageValidationError)
        )
          throw error;
        const unsent = new ReplyNotSentError(delivery.envelope.messageId, error);
        await this.options.publisher.publish(replyTo, [
          reply({ ok: false, error: errorOf(unsent) }),
        ]);
      }
      return result;
    };
  }
}

function errorOf(error: unknown): { name: string; message: string } {
  return {
    name: (error as Error)?.name ?? 'Error',
    message: (error as Error)?.message ?? String(error),
  };
}
