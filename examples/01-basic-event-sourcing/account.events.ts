import { type DomainEventOf, SerializerRegistry, messageType } from '@causeway/cqrs-core';
import { z } from 'zod';

// One definition per event: the name stored with it and the schema its data must pass.
export const AccountOpened = messageType('AccountOpened', z.object({ owner: z.string().min(1) }));
export const MoneyDeposited = messageType(
  'MoneyDeposited',
  z.object({ amount: z.number().positive() }),
);
export const MoneyWithdrawn = messageType(
  'MoneyWithdrawn',
  z.object({ amount: z.number().positive() }),
);

export type AccountEvent = DomainEventOf<
  typeof AccountOpened | typeof MoneyDeposited | typeof MoneyWithdrawn
>;

/** Validates every event on append and on read; give it to the event store. */
export function accountSerializer(): SerializerRegistry {
  return new SerializerRegistry()
    .register(AccountOpened)
    .register(MoneyDeposited)
    .register(MoneyWithdrawn);
}
