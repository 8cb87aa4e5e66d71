import 'reflect-metadata';
import { z } from 'zod';
import { queryType } from '../buses/query.type';
import { type IQueryHandler, QUERY_HANDLER, QueryHandler } from './handler.decorators';

const Total = queryType('Total', z.object({ limit: z.number() })).returns<number>();

@QueryHandler(Total)
class TotalQuery implements IQueryHandler<{ limit: number }, number> {
  execute({ limit }: { limit: number }): number {
    return limit * 2;
  }
}

// @ts-expect-error the class answers a string to a query typed to answer a number
@QueryHandler(Total)
class WrongAnswer implements IQueryHandler<{ limit: number }, string> {
  execute(): string {
    return 'not a number';
  }
}

describe('@QueryHandler(queryType)', () => {
  it('records the query type itself, for the explorer to register', () => {
    expect(Reflect.getMetadata(QUERY_HANDLER, TotalQuery)).toBe(Total);
    expect(Reflect.getMetadata(QUERY_HANDLER, WrongAnswer)).toBe(Total);
  });
});
