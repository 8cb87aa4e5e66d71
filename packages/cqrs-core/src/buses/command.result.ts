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
 *   not match, or cannot be checked (no JSON form, or one that changes the value: an Invalid
 *   Date, NaN, ±Infinity, a Map or Set; an async or throwing schema): the handler
 *   ran already, so nothing here may be treated as transient and run it again
 */
export function replyResult(schema: MessageSchema, value: unknown, command: Envelope): unknown {
  let wire: unknown;
  try {
    const json = JSON.stringify(value, refusingLossy());
    wire = json === undefined ? undefined : JSON.parse(json);
  } catch (error) {
    const form = error instanceof LossyJsonError ? 'faithful JSON form' : 'JSON form';
    throw unchecked(command, 'handler', `it has no ${form} (${messageOf(error)})`);
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

/** A value JSON would carry as something else; its message names the path. */
class LossyJsonError extends Error {}

/**
 * A JSON.stringify replacer refusing what JSON changes silently into another valid value: an
 * Invalid Date (null, which z.coerce.date() reads as 1970-01-01), NaN and ±Infinity (null,
 * which z.coerce.number() reads as 0), a Map or Set ({}). Checking the changed form would
 * accept it. The replacer sees a Date after its toJSON, so it looks at the holder's own value;
 * the paths of the objects it descends into are recorded to name the offending one.
 */
function refusingLossy(): (this: unknown, key: string, value: unknown) => unknown {
  const paths = new WeakMap<object, string>();
  return function (this: unknown, key: string, value: unknown): unknown {
    const parent = paths.get(this as object);
    const path = parent ? `${parent}.${key}` : key;
    const own = (this as Record<string, unknown>)[key];
    const at = path === '' ? 'the result' : path;
    if (own instanceof Date && Number.isNaN(own.getTime()))
      throw new LossyJsonError(`${at}: an Invalid Date, which JSON sends as null`);
    if (typeof own === 'number' && !Number.isFinite(own))
      throw new LossyJsonError(`${at}: ${own}, which JSON sends as null`);
    if (own instanceof Map || own instanceof Set)
      throw new LossyJsonError(
        `${at}: a ${own instanceof Map ? 'Map' : 'Set'}, which JSON sends as {} (send an object or an array)`,
      );
    if (typeof value === 'object' && value !== null) paths.set(value, path);
    return value;
  };
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
