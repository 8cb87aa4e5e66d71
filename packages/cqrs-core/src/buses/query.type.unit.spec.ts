import { z } from 'zod';
import { MessageValidationError } from '../messages/message.errors';
import { QueryBus } from './query-bus';
import { queryType } from './query.type';

const Balance = queryType(
  'Balance',
  z.object({ accountId: z.string().min(1), currency: z.string().default('EUR') }),
).returns<{ amount: number; currency: string }>();

describe('queryType', () => {
  it('types and validates what a caller passes, and types what the handler answers', async () => {
    const seen: unknown[] = [];
    const queries = new QueryBus().register(Balance, ({ accountId, currency }) => {
      seen.push({ accountId, currency });
      return { amount: accountId.length, currency };
    });
    const answer = await queries.execute(Balance, { accountId: 'acc-1' });
    expect(answer).toEqual({ amount: 5, currency: 'EUR' }); // the schema's default applied
    const amount: number = answer.amount;
    expect(amount).toBe(5);
    expect(seen).toEqual([{ accountId: 'acc-1', currency: 'EUR' }]);

    const refused = await queries.execute(Balance, { accountId: '' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MessageValidationError);
    expect(refused).toMatchObject({ type: 'Balance', field: 'accountId' });
    expect(seen).toHaveLength(1); // no handler ran
  });

  it('lets the compiler refuse wrong parameters and wrong answers', async () => {
    const queries = new QueryBus();
    // @ts-expect-error the handler must answer { amount, currency }
    queries.register(Balance, () => 'a string');
    // @ts-expect-error accountId is required
    await expect(queries.execute(Balance, {})).rejects.toThrow(MessageValidationError);
    // @ts-expect-error accountId is a string
    await expect(queries.execute(Balance, { accountId: 1 })).rejects.toThrow(
      MessageValidationError,
    );
  });

  it('shares the names of untyped queries: one handler per name either way', () => {
    const queries = new QueryBus().register(Balance, () => ({ amount: 0, currency: 'EUR' }));
    expect(() => queries.register('Balance', () => 0)).toThrow(/Balance/);
    expect(() => queryType('', z.object({}))).toThrow('the name must be a non-empty string');
  });

  it("parses with the registered type's schema also for a caller by name", async () => {
    const Total = queryType(
      'Total',
      z.object({ limit: z.coerce.number().int() }),
    ).returns<number>();
    let got: unknown;
    const queries = new QueryBus().register(Total, (params) => {
      got = params.limit;
      return params.limit * 2;
    });
    expect(await queries.execute<number>('Total', { limit: '21' })).toBe(42);
    expect(got).toBe(21);
    await expect(queries.execute('Total', { limit: 'many' })).rejects.toThrow(
      MessageValidationError,
    );
    // Another definition of the same name is refused, not answered with the other's schema.
    const Other = queryType('Total', z.object({ limit: z.string() })).returns<string>();
    await expect(queries.execute(Other, { limit: 'x' })).rejects.toThrow(
      'query Total: executed with another QueryType than its handler',
    );
  });
});
