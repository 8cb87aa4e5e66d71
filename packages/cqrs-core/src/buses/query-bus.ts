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
  private readonly handlers = new Map<string, (query: unknown) => Promise<unknown> | unknown>();

  register<Query, Result>(type: string, handler: (query: Query) => Promise<Result> | Result): this {
    if (this.handlers.has(type)) throw new DuplicateHandlerError(type);
    this.handlers.set(type, handler as (query: unknown) => unknown);
    return this;
  }

  async execute<Result = unknown>(type: string, query: unknown): Promise<Result> {
    const handler = this.handlers.get(type);
    if (!handler) throw new QueryHandlerNotFoundError(type);
    return (await handler(query)) as Result;
  }
}
