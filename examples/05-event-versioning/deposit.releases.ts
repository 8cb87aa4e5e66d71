import { SerializerRegistry, messageType } from '@causeway/cqrs-core';
import { z } from 'zod';

// Three releases of one event. Each release ships only its own definition; what older ones
// wrote stays in the store as it was written.

/** Release 1: `FundsAdded` v1, an amount in euros. */
export const FundsAddedV1 = messageType('FundsAdded', z.object({ amount: z.number().positive() }));

/** Release 2: `FundsAdded` v2, with a currency (every v1 deposit was in euros). */
export const FundsAddedV2 = messageType(
  'FundsAdded',
  z.object({ amount: z.number().positive(), currency: z.string().length(3) }),
  { version: 2 },
);

/**
 * Release 3: renamed to `MoneyDeposited`, v3, in integer cents (no rounding in sums). Its
 * handlers only ever see this shape: what was written as FundsAdded v1 or v2 is read as this.
 */
export const MoneyDeposited = messageType(
  'MoneyDeposited',
  z.object({ amountCents: z.number().int().positive(), currency: z.string().length(3) }),
  { version: 3 },
);

export const release1 = () => new SerializerRegistry().register(FundsAddedV1);

export const release2 = () => new SerializerRegistry().register(FundsAddedV2);

/**
 * Release 3's registry: the old name as a former name, and one upcaster per version step. An
 * upcaster is history: never change one that has run, add the next version instead.
 */
export function release3(): SerializerRegistry {
  const registry = new SerializerRegistry()
    .register(MoneyDeposited)
    .formerNames(MoneyDeposited, 'FundsAdded')
    // v1 -> v2: v1 had no currency; every deposit before release 2 was in euros.
    .upcaster(MoneyDeposited, 1, (data) => ({ ...(data as object), currency: 'EUR' }))
    // v2 -> v3: amounts become integer cents.
    .upcaster(MoneyDeposited, 2, (data) => {
      const { amount, currency } = data as { amount: number; currency: string };
      return { amountCents: Math.round(amount * 100), currency };
    });
  registry.assertUpcastersComplete(); // at start-up: a missing step fails the deploy
  return registry;
}
