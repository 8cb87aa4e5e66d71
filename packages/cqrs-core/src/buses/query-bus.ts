import { DuplicateHandlerError } from './bus.errors';
import { isQueryType, type QueryType } from './query.type';

/** No handler is registered for a query type. */
export class QueryHandlerNotFoundError extends Error {
  constructor(readonly queryType: string) {
    super(`no handler for query ${queryType}`);
    this.name = 'QueryHandlerNotFoundError';
  }
}

/**
 * Queries are answered in process from read models (no broker round trip): exactly one
 * handler per query type.
 */
export class QueryBus {
  private readonly handlers = new Map<
    string,
    {
      answer: (query: unknown) => Promise<unknown> | unknown;
      name?: string;
      /** The QueryType it was registered with: its schema parses every call's parameters. */
      type?: QueryType;
    }
  >();

  /**
   * Registers the handler of a query type (a {@link QueryType}: the compiler checks what the
   * handler takes and answers; or a name).
   * @param options.name who answers it (e.g. its class), named by DuplicateHandlerError;
   *   default the function's name
   * @throws DuplicateHandlerError when the type already has a handler, naming both when known
   */
  register<Name extends string, Params, Result, Input>(
    type: QueryType<Name, Params, Result, Input>,
    handler: (params: Params) => Promise<Result> | Result,
    options?: { name?: string },
  ): this;
  register<Query, Result>(
    type: string,
    handler: (query: Query) => Promise<Result> | Result,
    options?: { name?: string },
  ): this;
  register(
    type: string | QueryType,
    handler: (query: never) => unknown,
    options: { name?: string } = {},
  ): this {
    const key = isQueryType(type) ? type.query : type;
    const name = options.name ?? (handler.name || undefined);
    const registered = this.handlers.get(key);
    if (registered)
      throw new DuplicateHandlerError(key, {
        kind: 'query',
        registered: registered.name,
        duplicate: name,
      });
    this.handlers.set(key, {
      answer: handler as (query: unknown) => unknown,
      name,
      ...(isQueryType(type) && { type }),
    });
    return this;
  }

  /**
   * The answer of the query's handler. When the handler was registered with a
   * {@link QueryType} (or, registered by name, is executed with one), the parameters are
   * validated first by that type's schema and the handler gets its output — whether the caller
   * passes the type or the name; otherwise the query as given.
   * @throws MessageValidationError naming the first offending field; no handler runs
   * @throws TypeError when executed with a QueryType other than the one the handler was
   *   registered with (same name, another definition)
   * @throws QueryHandlerNotFoundError when the type has no handler
   */
  execute<Name extends string, Params, Result, Input>(
    type: QueryType<Name, Params, Result, Input>,
    params: Input,
  ): Promise<Result>;
  execute<Result = unknown>(type: string, query: unknown): Promise<Result>;
  async execute(type: string | QueryType, query: unknown): Promise<unknown> {
    const key = isQueryType(type) ? type.query : type;
    const handler = this.handlers.get(key);
    if (!handler) throw new QueryHandlerNotFoundError(key);
    if (isQueryType(type) && handler.type && type !== handler.type)
      throw new TypeError(
        `query ${key}: executed with another QueryType than its handler ` +
          `(${handler.name ?? 'anonymous'}) was registered with; share one definition`,
      );
    const parser = handler.type ?? (isQueryType(type) ? type : undefined);
    return handler.answer(parser ? parser.parse(query) : query);
  }
}
