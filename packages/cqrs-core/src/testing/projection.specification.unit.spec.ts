import { AssertionError } from 'node:assert/strict';
import { type StoredEvent } from '../event-store/event-store.port';
import { type Projection } from '../projections/projection.port';
import { z } from 'zod';
import { messageType } from '../messages/message.type';
import { ProjectionSpecification } from './projection.specification';

/** Balances per account; `idempotent: false` forgets which versions it applied. */
function balances(idempotent = true) {
  const rows = new Map<string, { balance: number; version: number }>();
  const projection: Projection = {
    name: 'balances',
    types: ['Deposited', 'Withdrawn'],
    apply(event: StoredEvent) {
      const row = rows.get(event.streamId) ?? { balance: 0, version: 0 };
      if (idempotent && event.version <= row.version) return;
      const { amount } = event.data as { amount: number };
      if (amount < 0) throw new RangeError(`negative amount at ${event.streamId}@${event.version}`);
      const sign = event.type === 'Deposited' ? 1 : -1;
      rows.set(event.streamId, { balance: row.balance + sign * amount, version: event.version });
    },
  };
  return {
    projection,
    read: () => Object.fromEntries([...rows].map(([id, row]) => [id, row.balance])),
  };
}

const deposited = (streamId: string, amount: number) => ({
  streamId,
  type: 'Deposited',
  data: { amount },
});

describe('ProjectionSpecification', () => {
  const spec = ProjectionSpecification.for(() => balances());

  it('compares the read model after the events, versions counted per stream', async () => {
    await spec
      .given([deposited('acc-1', 10), deposited('acc-2', 5)])
      .when([{ streamId: 'acc-1', type: 'Withdrawn', data: { amount: 3 } }])
      .then({ 'acc-1': 7, 'acc-2': 5 });
    await expect(
      spec
        .given([deposited('acc-1', 10)])
        .when([deposited('acc-1', 1)])
        .then({ 'acc-1': 10 }),
    ).rejects.toThrow(AssertionError);
  });

  it('leaves out the types the projection does not list', async () => {
    await spec
      .given([deposited('acc-1', 10)])
      .when([{ streamId: 'acc-1', type: 'Renamed', data: { amount: 1_000 } }])
      .then({ 'acc-1': 10 });
  });

  it('fails a projection that is not idempotent, saying so', async () => {
    const counting = ProjectionSpecification.for(() => balances(false));
    const error = await counting
      .given([deposited('acc-1', 10)])
      .when([deposited('acc-1', 5)])
      .then({ 'acc-1': 15 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AssertionError);
    expect((error as Error).message).toMatch(
      /delivered again \(at least once\): apply must be idempotent/,
    );
  });

  it('checks what applying the when events throws', async () => {
    await spec
      .given([deposited('acc-1', 10)])
      .when([deposited('acc-1', -1)])
      .thenThrows(RangeError, (error) => error.message === 'negative amount at acc-1@2');
    await expect(
      spec
        .given([])
        .when([deposited('acc-1', 1)])
        .thenThrows(RangeError),
    ).rejects.toThrow('Expected applying the events to throw, but it did not');
    await expect(
      spec
        .given([])
        .when([deposited('acc-1', -1)])
        .thenThrows(TypeError),
    ).rejects.toThrow('Expected TypeError, got RangeError: negative amount at acc-1@1');
  });

  it('leaves out the types a projection does not list, given as message types', async () => {
    const Deposited = messageType('Deposited', z.object({ amount: z.number() }));
    const typed = ProjectionSpecification.for(() => {
      const rows = new Map<string, number>();
      const projection: Projection = {
        name: 'deposits',
        types: [Deposited],
        apply(event) {
          if (!Deposited.is(event)) throw new Error(`${event.type} is not a deposit`);
          rows.set(event.streamId, event.version * 100 + event.data.amount);
        },
      };
      return { projection, read: () => Object.fromEntries(rows) };
    });
    await typed
      .given([deposited('acc-1', 10)])
      .when([{ streamId: 'acc-1', type: 'Withdrawn', data: { amount: 3 } }, deposited('acc-1', 5)])
      .then({ 'acc-1': 305 });
  });
});
