import { shownValue } from '../config/shown-value';
import { z } from 'zod';
import { MessageValidationError } from '../messages/message.errors';

/**
 * A query type as one value: its name, the schema of its parameters and the type of its
 * result (ADR 012, as message types are for commands and events). `QueryBus.register` and
 * `execute` (and `@QueryHandler`) take it instead of a name: the compiler then checks the
 * parameters a caller passes and the result a handler returns, and `execute` validates the
 * parameters at run time (a caller's bad input is refused with a MessageValidationError
 * naming the field, before any handler runs). The result is typed, not validated: the handler
 * is this process's own code.
 *
 * @typeParam Name the name, a string literal
 * @typeParam Params the parameters' schema output (what the handler gets)
 * @typeParam Result what the handler answers
 * @typeParam Input the parameters' schema input (what a caller passes)
 */
export interface QueryType<
  Name extends string = string,
  Params = unknown,
  Result = unknown,
  Input = Params,
> {
  readonly query: Name;
  readonly params: z.core.$ZodType<Params, Input>;
  /** Never set: carries the result type for the compiler. */
  readonly result?: Result;
  /**
   * The parameters as the handler gets them (the schema's output).
   * @throws MessageValidationError naming the first offending field
   */
  parse(params: unknown): Params;
}

/**
 * Defines a query type:
 * `const Balance = queryType('Balance', z.object({ accountId: z.string() })).returns<number>()`.
 * @throws TypeError when the name is empty
 */
export function queryType<const Name extends string, Schema extends z.core.$ZodType>(
  query: Name,
  params: Schema,
): {
  /** The type of the handler's answer (a type only: nothing is checked at run time). */
  returns<Result>(): QueryType<Name, z.core.output<Schema>, Result, z.core.input<Schema>>;
} {
  if (typeof query !== 'string' || query.length === 0)
    throw new TypeError(`queryType: the name must be a non-empty string, got ${shownValue(query)}`);
  const type = Object.freeze({
    query,
    params,
    parse(value: unknown) {
      const result = z.safeParse(params, value);
      if (result.success) return result.data;
      const issue = result.error.issues[0];
      throw new MessageValidationError(
        query,
        issue ? issue.path.map(String).join('.') : '',
        issue?.message ?? 'is invalid',
      );
    },
  });
  return {
    returns: <Result>() =>
      type as unknown as QueryType<Name, z.core.output<Schema>, Result, z.core.input<Schema>>,
  };
}

/** Whether `value` is a {@link QueryType} (and not a query name). */
export function isQueryType(value: unknown): value is QueryType {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as QueryType).query === 'string' &&
    typeof (value as QueryType).parse === 'function'
  );
}
