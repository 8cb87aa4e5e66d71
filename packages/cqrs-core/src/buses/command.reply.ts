import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type Envelope } from '../messages/envelope';

/** The type of the replies a CommandBus publishes to a requester's `metadata.replyTo`. */
export const COMMAND_REPLY = 'CommandReply';

export const CommandReplySchema = z.object({
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z
    .object({
      name: z.string(),
      message: z.string(),
      code: z.string().optional(),
      details: z.record(z.string(), z.unknown()).optional(),
      /** A DomainError's own client-error status (an integer 400–499), when it has one. */
      status: z.number().int().min(400).max(499).optional(),
      /** A DomainError refused it (else: it failed and was dead-lettered). */
      refused: z.boolean().optional(),
    })
    .optional(),
});
export type CommandReply = z.infer<typeof CommandReplySchema>;

/** What a reply needs of the command it answers (an Envelope, or its wire form). */
export interface Answered {
  readonly messageId: string;
  readonly aggregateId: string;
  readonly aggregateType: string;
  readonly metadata: { readonly correlationId?: unknown };
}

/**
 * The reply to `command`: its `causationId` is the command's id, which the requesting bus
 * matches to the request waiting for it.
 */
export function reply(command: Answered, data: CommandReply): Envelope {
  const correlationId = command.metadata.correlationId;
  return {
    messageId: randomUUID(),
    type: COMMAND_REPLY,
    aggregateId: command.aggregateId,
    aggregateType: command.aggregateType,
    version: 0,
    data,
    metadata: {
      timestamp: new Date().toISOString(),
      category: 'reply',
      causationId: command.messageId,
      correlationId: typeof correlationId === 'string' ? correlationId : command.messageId,
    },
  };
}
