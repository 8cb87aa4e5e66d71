import 'reflect-metadata';
import { z } from 'zod';
import { SerializerRegistry } from '../messages/serializer.registry';
import { startError } from './cqrs-core.module.fixture';
import { type CqrsCoreModuleOptions } from './cqrs-core.options';

// A setting read from the environment without coercion (Number(undefined) is NaN) used to start
// fine and then break every message: each is refused when the application starts, named.

const base = (): CqrsCoreModuleOptions => ({
  service: 'numbers',
  instanceId: 'numbers-1',
  transport: 'in-memory',
  serializer: new SerializerRegistry().register('Move', z.object({ dx: z.number() })),
});

const refusals: [keyof CqrsCoreModuleOptions, number, ErrorConstructor, string][] = [
  ['eventTimeoutMs', Number.NaN, TypeError, 'a positive number of milliseconds up to 2147483647'],
  ['eventTimeoutMs', -1, TypeError, 'a positive number of milliseconds up to 2147483647'],
  ['commandTimeoutMs', Number.NaN, TypeError, 'a positive number of milliseconds up to 2147483647'],
  ['commandClockSkewMs', Number.NaN, RangeError, 'a non-negative number of milliseconds'],
  ['maxDeliveries', 0, RangeError, 'a positive integer'],
];

describe('CqrsCoreModule numeric options', () => {
  describe.each(['forRoot', 'forRootAsync'] as const)('%s', (how) => {
    it.each(refusals)(
      'refuses %s = %p at start, naming it',
      async (name, value, kind, expected) => {
        const error = await startError(base, { [name]: value }, how);
        expect(error).toBeInstanceOf(kind);
        expect((error as Error).message).toBe(
          `CqrsCoreModule: options.${name} must be ${expected}, got ${value}`,
        );
      },
    );

    it('starts with valid numbers', async () => {
      const valid = {
        eventTimeoutMs: 5_000,
        commandTimeoutMs: 5_000,
        commandClockSkewMs: 0,
        maxDeliveries: 10,
      };
      expect(await startError(base, valid, how)).toBeUndefined();
    });
  });
});
