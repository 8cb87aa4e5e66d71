import { z } from 'zod';
import { type Envelope } from '../messages/envelope';
import { type MessageSchema } from '../messages/serializer.registry';
import { CommandResultInvalidError } from './bus.errors';

/**
 * The handling side: what a reply carries of the handler's `value` — its JSON form, what the
 * requester will receive — once that form matches the schema. The schema is applied to that
 * form, not to `value`, and its output is not sent: the requester parses the reply into the
 * output once (a transform applied on both sides would apply twice, and a Date the schema
 * accepts here would arrive as a string).
 * @throws CommandResultInvalidError (side 'handler', a PermanentError) when the JSON form does
 *   not match, or cannot be checked (no JSON form, an async or throwing schema): the handler
 *   ran already, so nothing here may be treated as transient and run it again
 */
export function replyResult(schema: MessageSchema, value: unknown, command: Envelope): unknown {
  let wire: unknown;
  try {
    const json = JSON.stringify(value);
    wire = json === undefined ? undefined : JSON.parse(json);
  } catch (error) {
    throw unchecked(command, 'handler', `it has no JSON form (${messageOf(error)})`);
  }
  const parsed = parse(schema, wire, command, 'handler');
  if (parsed.success) return wire;
  // The value itself would match: the schema reads a type JSON does not carry (z.date()).
  const hint =
    wire !== value && safely(() => z.safeParse(schema, value).success)
      ? ' — the result crosses the wire as JSON and the schema refuses its JSON form: declare ' +
        'what JSON carries (z.coerce.date() or z.iso.datetime() for a Date)'
      : '';
  throw mismatch(parsed.error, command, 'handler', hint);
}

/**
 * The requesting side: a reply's result as the type's result schema reads it (its output:
 * defaults applied, unknown keys of plain objects stripped, transforms applied — once).
 * @throws CommandResultInvalidError (side 'reply') naming the first offending field, or saying
 *   that the schema could not check it
 */
export function requestResult(schema: MessageSchema, result: unknown, command: Envelope): unknown {
  const parsed = parse(schema, result, command, 'reply');
  if (parsed.success) return parsed.data;
  throw mismatch(parsed.error, command, 'reply', '');
}

/** Parses synchronously; anything it throws becomes a CommandResultInvalidError. */
function parse(
  schema: MessageSchema,
  value: unknown,
  command: Envelope,
  side: 'handler' | 'reply',
): z.ZodSafeParseResult<unknown> {
  try {
    return z.safeParse(schema, value);
  } catch (error) {
    const problem =
      error instanceof z.core.$ZodAsyncError
        ? `the schema is asynchronous (an async refine or transform): result schemas are checked synchronously (${messageOf(error)})`
        : `checking threw ${messageOf(error)}`;
    throw unchecked(command, side, problem);
  }
}

function mismatch(
  error: z.core.$ZodError,
  command: Envelope,
  side: 'handler' | 'reply',
  hint: string,
): CommandResultInvalidError {
  const issue = error.issues[0];
  return new CommandResultInvalidError(
    command.messageId,
    command.type,
    issue ? issue.path.map(String).join('.') : '',
    (issue?.message ?? 'is invalid') + hint,
    side,
  );
}

function unchecked(
  command: Envelope,
  side: 'handler' | 'reply',
  problem: string,
): CommandResultInvalidError {
  return new CommandResultInvalidError(
    command.messageId,
    command.type,
    '',
    problem,
    side,
    'unchecked',
  );
}

function safely(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
}
