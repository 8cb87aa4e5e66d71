import { DuplicateHandlerError } from './bus.errors';

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
    { answer: (query: unknown) => Promise<unknown> | unknown; name?: string }
  >();

  /**
   * Registers the handler of a query type.
   * @param options.name who answers it (e.g. its class), named by DuplicateHandlerError;
   *   default the function's name
   * @throws DuplicateHandlerError when the type already has a handler, naming both when known
   */
  register<Query, Result>(
    type: string,
    handler: (query: Query) => Promise<Result> | Result,
    options: { name?: string } = {},
  ): this {
    const name = options.name ?? (handler.name || undefined);
    const registered = this.handlers.get(type);
    if (registered)
      throw new DuplicateHandlerError(type, {
        kind: 'query',
        registered: registered.name,
        duplicate: name,
      });
    this.handlers.set(type, { answer: handler as (query: unknown) => unknown, name });
    return this;
  }

  async execute<Result = unknown>(type: string, query: unknown): Promise<Result> {
    const handler = this.handlers.get(type);
    if (!handler) throw new QueryHandlerNotFoundError(type);
    return (await handler.answer(query)) as Result;
  }
}
