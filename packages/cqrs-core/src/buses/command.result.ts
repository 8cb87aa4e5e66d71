import { z } from 'zod';
import { type Envelope } from '../messages/envelope';
import { type MessageSchema } from '../messages/serializer.registry';
import { CommandResultInvalidError } from './bus.errors';

/**
 * A command's result as its type's result schema reads it (the schema's output: defaults
 * applied, unknown keys of plain objects stripped, as for message data).
 * @throws CommandResultInvalidError naming the first offending field
 */
export function checkedResult(
  schema: MessageSchema,
  result: unknown,
  command: Envelope,
  side: 'handler' | 'reply',
): unknown {
  const parsed = z.safeParse(schema, result);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CommandResultInvalidError(
    command.messageId,
    command.type,
    issue ? issue.path.map(String).join('.') : '',
    issue?.message ?? 'is invalid',
    side,
  );
}
