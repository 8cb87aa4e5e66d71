import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import { documentCollection, messageType, SerializerRegistry } from '@causeway/cqrs-core';

// The application's schemas cross the API (messageType, register, documentCollection): the
// library must use the application's zod, not a copy of its own, and say so when it is zod 3.
describe('zod, the peer dependency', () => {
  it('is a peer dependency, so an application has one zod and its schemas type-check', () => {
    const manifest = JSON.parse(
      readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'),
    ) as Record<string, Record<string, string> | undefined>;
    // A pinned dependency gave an app on zod 4.1 a nested 4.6.7 and the compile error
    // "The types of '_zod.version.minor' are incompatible" on every messageType.
    expect(manifest.dependencies?.zod).toBeUndefined();
    expect(manifest.peerDependencies?.zod).toBe('^4.6.0');
    expect(manifest.peerDependenciesMeta?.zod).toBeUndefined(); // not optional: the root needs it
  });

  it('refuses a zod 3 schema where it is given, saying how to get a zod 4 one', () => {
    const legacy = z3.object({ amount: z3.number() }) as unknown as z.ZodObject;
    const advice = /must be a zod 4 schema, got a zod 3 one: install zod 4 .*'zod\/v4'/;
    expect(() => messageType('Deposit', legacy)).toThrow(advice);
    expect(() => messageType('Deposit', z.object({}), { result: legacy })).toThrow(advice);
    // Before: accepted here, then "Cannot read properties of undefined (reading 'run')" at the
    // first serialize, deep inside zod.
    expect(() => new SerializerRegistry().register('Deposit', legacy)).toThrow(
      /^SerializerRegistry\.register\(Deposit\): the schema must be a zod 4 schema/,
    );
    expect(() => documentCollection('users', { schema: legacy })).toThrow(
      /^documentCollection\(users\): options\.schema must be a zod 4 schema/,
    );
    expect(() => new SerializerRegistry().register('Deposit', 'no' as never)).toThrow(
      'SerializerRegistry.register(Deposit): the schema must be a zod schema (z.object({ … })), got "no"',
    );
  });
});
