import { DEFAULT_MAX_MESSAGE_BYTES } from './json.serializer';
import { z } from 'zod';
import * as zm from 'zod/mini';
import { checksumOf } from './checksum';
import { type Envelope } from './envelope';
import {
  ChecksumMismatchError,
  MessageTooLargeError,
  MessageValidationError,
  UnknownMessageTypeError,
} from './message.errors';
import { MessageFactory } from './message.factory';
import { SerializerRegistry } from './serializer.registry';
import { UpcasterChain } from './upcaster.chain';
import { MissingUpcasterError, UnsupportedSchemaVersionError } from './upcaster.errors';

const TrainerMoved = z.object({
  trainerId: z.string(),
  position: z.object({ x: z.number(), y: z.number() }),
});

const factory = new MessageFactory();
const moved = (data: unknown): Envelope =>
  factory.event('TrainerMovedEvent', data, { aggregateId: 'ash', aggregateType: 'Trainer' });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('SerializerRegistry', () => {
  const registry = () => new SerializerRegistry().register('TrainerMovedEvent', TrainerMoved);

  it('round-trips data and metadata, stamping checksum and schema version', () => {
    const envelope = moved({ trainerId: 'ash', position: { x: 1, y: -2.5 } });
    const serialized = registry().serialize(envelope);
    expect(serialized.data).toBe('{"trainerId":"ash","position":{"x":1,"y":-2.5}}');
    expect(serialized.metadata.checksum).toBe(checksumOf(serialized.data));
    expect(serialized.metadata.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(serialized.metadata.schemaVersion).toBe(1);

    const back = registry().deserialize(serialized);
    expect(back.data).toEqual(envelope.data);
    expect(back).toEqual({ ...envelope, metadata: serialized.metadata });
    expect(back.metadata.correlationId).toBe(envelope.metadata.correlationId);
  });

  it('survives a transport that only carries JSON text', () => {
    const serialized = registry().serialize(moved({ trainerId: 'ash', position: { x: 0, y: 0 } }));
    const overTheWire = JSON.parse(JSON.stringify(serialized));
    expect(registry().deserialize(overTheWire).data).toEqual({
      trainerId: 'ash',
      position: { x: 0, y: 0 },
    });
  });

  it('names the offending field on serialize', () => {
    const error = thrown(() =>
      registry().serialize(moved({ trainerId: 'ash', position: { x: 'left', y: 0 } })),
    );
    expect(error).toBeInstanceOf(MessageValidationError);
    expect(error).toMatchObject({ type: 'TrainerMovedEvent', field: 'position.x' });
    expect((error as Error).message).toContain('position.x');
  });

  it('validates on deserialize too, naming the field', () => {
    const data = JSON.stringify({ trainerId: 'ash', position: { x: 1 } });
    const forged = {
      ...moved({}),
      data,
      metadata: { ...moved({}).metadata, checksum: checksumOf(data), schemaVersion: 1 },
    };
    expect(thrown(() => registry().deserialize(forged))).toMatchObject({
      name: 'MessageValidationError',
      field: 'position.y',
    });
  });

  it('strips keys the schema does not know, so what is stored is what handlers see', () => {
    const serialized = registry().serialize(
      moved({ trainerId: 'a', position: { x: 1, y: 2 }, extra: true }),
    );
    expect(JSON.parse(serialized.data)).toEqual({ trainerId: 'a', position: { x: 1, y: 2 } });
  });

  it('accepts zod mini schemas', () => {
    const r = new SerializerRegistry().register('Ping', zm.object({ n: zm.number() }));
    const envelope = factory.event('Ping', { n: 1 });
    expect(r.deserialize(r.serialize(envelope)).data).toEqual({ n: 1 });
    expect(thrown(() => r.serialize(factory.event('Ping', { n: 'x' })))).toMatchObject({
      field: 'n',
    });
  });

  it('names unknown types on both sides', () => {
    const envelope = factory.event('Nope', {});
    expect(thrown(() => registry().serialize(envelope))).toMatchObject({
      name: 'UnknownMessageTypeError',
      type: 'Nope',
    });
    const serialized = new SerializerRegistry().register('Nope', z.object({})).serialize(envelope);
    const error = thrown(() => registry().deserialize(serialized));
    expect(error).toBeInstanceOf(UnknownMessageTypeError);
    expect((error as Error).message).toContain('"Nope"');
  });

  it('refuses data whose checksum does not match, before parsing it', () => {
    const serialized = registry().serialize(moved({ trainerId: 'ash', position: { x: 1, y: 2 } }));
    const tampered = { ...serialized, data: serialized.data.replace('"x":1', '"x":9') };
    const error = thrown(() => registry().deserialize(tampered));
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(error).toMatchObject({
      messageId: serialized.messageId,
      expected: serialized.metadata.checksum,
      actual: checksumOf(tampered.data),
    });
    const garbage = { ...serialized, data: '{not json' };
    expect(() => registry().deserialize(garbage)).toThrow(ChecksumMismatchError);
    const missing = {
      ...serialized,
      metadata: { ...serialized.metadata, checksum: undefined as unknown as string },
    };
    expect(() => registry().deserialize(missing)).toThrow(ChecksumMismatchError);
  });

  it('reports unparsable text with a valid checksum as a validation error', () => {
    const serialized = registry().serialize(moved({ trainerId: 'ash', position: { x: 1, y: 2 } }));
    const data = '{not json';
    const broken = {
      ...serialized,
      data,
      metadata: { ...serialized.metadata, checksum: checksumOf(data) },
    };
    expect(thrown(() => registry().deserialize(broken))).toMatchObject({
      name: 'MessageValidationError',
      field: '',
    });
  });

  it('refuses an envelope above maxMessageBytes, counting UTF-8 bytes of its JSON text', () => {
    const schema = z.object({ t: z.string() });
    const fits = factory.event('Note', { t: 'é'.repeat(6) });
    const size = Buffer.byteLength(
      JSON.stringify(new SerializerRegistry().register('Note', schema).serialize(fits)),
    );
    const r = new SerializerRegistry({ maxMessageBytes: size }).register('Note', schema);
    expect(() => r.serialize(fits)).not.toThrow();
    const big = { ...fits, data: { t: 'é'.repeat(7) } };
    const error = thrown(() => r.serialize(big));
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toMatchObject({ messageId: big.messageId, sizeBytes: size + 2, maxBytes: size });
  });

  it('counts metadata against maxMessageBytes: megabytes of it are refused', () => {
    const r = new SerializerRegistry().register('Note', z.object({ t: z.string() }));
    const base = factory.event('Note', { t: 'small' });
    const heavy = { ...base, metadata: { ...base.metadata, note: 'x'.repeat(2 * 1024 * 1024) } };
    const error = thrown(() => r.serialize(heavy));
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toMatchObject({
      messageId: heavy.messageId,
      maxBytes: DEFAULT_MAX_MESSAGE_BYTES,
    });
  });

  it('refuses data above 1.5 MiB by default, as JsonSerializer does; Infinity lifts the limit', () => {
    const schema = z.object({ t: z.string() });
    const big = factory.event('Note', { t: 'x'.repeat(1.5 * 1024 * 1024) });
    const error = thrown(() => new SerializerRegistry().register('Note', schema).serialize(big));
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toMatchObject({ maxBytes: DEFAULT_MAX_MESSAGE_BYTES });
    for (const [bad, shown] of [
      [NaN, 'NaN'],
      [-1, '-1'],
      [0, '0'],
      ['1048576', '"1048576"'],
    ] as const)
      expect(() => new SerializerRegistry({ maxMessageBytes: bad as number })).toThrow(
        `options.maxMessageBytes must be a positive number of bytes (Infinity for no limit), got ${shown}`,
      );
    const unlimited = new SerializerRegistry({ maxMessageBytes: Infinity }).register(
      'Note',
      schema,
    );
    expect(unlimited.serialize(big).data.length).toBeGreaterThan(DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('applies the limit a call passes instead of its own (a transport encoding for the wire)', () => {
    const r = new SerializerRegistry().register('Note', z.object({ t: z.string() }));
    const big = factory.event('Note', { t: 'x'.repeat(1.5 * 1024 * 1024) });
    expect(thrown(() => r.serialize(big))).toBeInstanceOf(MessageTooLargeError);
    expect(r.serialize(big, { maxMessageBytes: Infinity }).data.length).toBeGreaterThan(
      DEFAULT_MAX_MESSAGE_BYTES,
    );
    const small = factory.event('Note', { t: 'x'.repeat(300) });
    expect(thrown(() => r.serialize(small, { maxMessageBytes: 200 }))).toMatchObject({
      maxBytes: 200,
    });
  });

  describe('versioned types', () => {
    const v1 = new SerializerRegistry().register('UserRegistered', z.object({ name: z.string() }));
    const v3 = () =>
      new SerializerRegistry()
        .register(
          'UserRegistered',
          z.object({ first: z.string(), last: z.string(), email: z.email() }),
          {
            version: 3,
          },
        )
        .upcaster('UserRegistered', 1, (data) => {
          const [first, last] = (data as { name: string }).name.split(' ');
          return { first, last };
        })
        .upcaster('UserRegistered', 2, (data) => ({
          ...(data as object),
          email: 'unknown@example.com',
        }));

    it('upcasts v1 data through v2 to v3 on read and reports the current version', () => {
      const old = v1.serialize(factory.event('UserRegistered', { name: 'Ash Ketchum' }));
      expect(old.metadata.schemaVersion).toBe(1);
      const current = v3().deserialize(old);
      expect(current.data).toEqual({ first: 'Ash', last: 'Ketchum', email: 'unknown@example.com' });
      expect(current.metadata.schemaVersion).toBe(3);
      expect(current.metadata.checksum).toBe(old.metadata.checksum);
      expect(v3().currentVersion('UserRegistered')).toBe(3);
    });

    it('treats data without a schema version as version 1', () => {
      const old = v1.serialize(factory.event('UserRegistered', { name: 'Misty W' }));
      const { schemaVersion: _v, ...rest } = old.metadata;
      const legacy = { ...old, metadata: rest as typeof old.metadata };
      expect(v3().deserialize(legacy).data).toMatchObject({ first: 'Misty', last: 'W' });
    });

    it('refuses a schema version that is no positive integer, naming it, on both sides', () => {
      const old = v1.serialize(factory.event('UserRegistered', { name: 'Misty W' }));
      // A producer in another language wrote the version as text: "1" + 1 was "11".
      for (const schemaVersion of ['1', '2', 1.5, 0, -1, 'x']) {
        const written = { ...old, metadata: { ...old.metadata, schemaVersion } };
        const refusal = `must be a positive integer, got ${JSON.stringify(schemaVersion)}`;
        expect(thrown(() => v3().deserialize(written as typeof old))).toMatchObject({
          name: 'MessageValidationError',
          message: `Invalid UserRegistered: metadata.schemaVersion ${refusal}`,
        });
        const envelope = factory.event('UserRegistered', {
          first: 'a',
          last: 'b',
          email: 'a@b.io',
        });
        const claimed = { ...envelope, metadata: { ...envelope.metadata, schemaVersion } };
        expect(thrown(() => v3().serialize(claimed as typeof envelope))).toMatchObject({
          name: 'MessageValidationError',
          field: 'metadata.schemaVersion',
        });
      }
    });

    it('validates the upcast result against the current schema', () => {
      const r = new SerializerRegistry()
        .register('UserRegistered', z.object({ first: z.string(), last: z.string() }), {
          version: 2,
        })
        .upcaster('UserRegistered', 1, () => ({ first: 'only' }));
      const old = v1.serialize(factory.event('UserRegistered', { name: 'x y' }));
      expect(thrown(() => r.deserialize(old))).toMatchObject({
        name: 'MessageValidationError',
        field: 'last',
      });
    });

    it('names a missing link, also at start-up', () => {
      const r = new SerializerRegistry()
        .register('UserRegistered', z.object({}), { version: 3 })
        .upcaster('UserRegistered', 1, (d) => d);
      const old = v1.serialize(factory.event('UserRegistered', { name: 'x' }));
      expect(thrown(() => r.deserialize(old))).toMatchObject({
        name: 'MissingUpcasterError',
        missingFrom: 2,
      });
      expect(() => r.assertUpcastersComplete()).toThrow(MissingUpcasterError);
      expect(() => v3().assertUpcastersComplete()).not.toThrow();
    });

    it('names an upcaster that would never run: of an unregistered type, or from its current version', () => {
      const typo = v3().upcaster('UserRegisterd', 1, (d) => d);
      expect(() => typo.assertUpcastersComplete()).toThrow(
        new TypeError(
          'the upcaster of UserRegisterd v1 -> v2 would never run: UserRegisterd is not a ' +
            'registered type (registered: UserRegistered)',
        ),
      );
      const ahead = v3().upcaster('UserRegistered', 3, (d) => d);
      expect(() => ahead.assertUpcastersComplete()).toThrow(
        'the upcaster of UserRegistered v3 -> v4 would never run: UserRegistered is registered ' +
          'at version 3',
      );
    });

    it('refuses data written by a newer schema version', () => {
      const newer = v3().serialize(
        factory.event('UserRegistered', { first: 'a', last: 'b', email: 'a@b.io' }),
      );
      expect(() => v1.deserialize(newer)).toThrow(UnsupportedSchemaVersionError);
    });

    it('stamps the current version on serialize when the envelope claims it, an older one or none', () => {
      const data = { first: 'a', last: 'b', email: 'a@b.io' };
      for (const schemaVersion of [1, 3]) {
        const envelope = factory.event('UserRegistered', data, { schemaVersion });
        expect(v3().serialize(envelope).metadata.schemaVersion).toBe(3);
      }
      const none = factory.event('UserRegistered', data);
      const { schemaVersion: _v, ...rest } = none.metadata;
      expect(v3().serialize({ ...none, metadata: rest }).metadata.schemaVersion).toBe(3);
    });

    it('refuses to serialize an envelope of a newer schema version instead of stripping its new fields', () => {
      // Written by the next release (v3), re-serialized by this one (v1): a replay, a republish.
      const newer = v3().deserialize(
        v3().serialize(factory.event('UserRegistered', { first: 'a', last: 'b', email: 'a@b.io' })),
      );
      const error = thrown(() => v1.serialize(newer));
      expect(error).toBeInstanceOf(UnsupportedSchemaVersionError);
      expect(error).toMatchObject({
        type: 'UserRegistered',
        schemaVersion: 3,
        currentVersion: 1,
        message: 'UserRegistered has schema version 3, newer than the current version 1 known here',
      });
      // Even when the old schema accepts the data: its new field would be stripped silently.
      const added = new SerializerRegistry().register('Added', z.object({ n: z.number() }));
      const v2 = factory.event('Added', { n: 1, m: 2 }, { schemaVersion: 2 });
      expect(() => added.serialize(v2)).toThrow(UnsupportedSchemaVersionError);
    });
  });

  describe('renamed types (formerNames)', () => {
    // Release 1 called it TrainerMovedEvent with a flat x, y; release 2 renamed it TrainerMoved
    // (version 2) and nested the position.
    const release1 = () =>
      new SerializerRegistry().register(
        'TrainerMovedEvent',
        z.object({ trainerId: z.string(), x: z.number(), y: z.number() }),
      );
    const release2 = () =>
      new SerializerRegistry()
        .register('TrainerMoved', TrainerMoved, { version: 2 })
        .formerNames('TrainerMoved', 'TrainerMovedEvent')
        .upcaster('TrainerMoved', 1, (data) => {
          const { trainerId, x, y } = data as { trainerId: string; x: number; y: number };
          return { trainerId, position: { x, y } };
        });

    it('reads data written under a former name as the new type, upcast from its version', () => {
      const old = release1().serialize(moved({ trainerId: 'ash', x: 3, y: 4 }));
      const read = release2().deserialize(old);
      expect(read.type).toBe('TrainerMoved');
      expect(read.data).toEqual({ trainerId: 'ash', position: { x: 3, y: 4 } });
      expect(read.metadata.schemaVersion).toBe(2);
      expect(read.messageId).toBe(old.messageId);
      expect(release2().has('TrainerMovedEvent')).toBe(true);
      expect(release2().namesOf('TrainerMoved')).toEqual(['TrainerMoved', 'TrainerMovedEvent']);
      expect(release2().namesOf('TrainerMovedEvent')).toEqual([
        'TrainerMoved',
        'TrainerMovedEvent',
      ]);
    });

    it('writes an envelope still carrying a former name under the new one', () => {
      const replayed = factory.event(
        'TrainerMovedEvent',
        { trainerId: 'ash', position: { x: 1, y: 2 } },
        { schemaVersion: 2 },
      );
      const written = release2().serialize(replayed);
      expect(written.type).toBe('TrainerMoved');
      expect(release2().deserialize(written).data).toEqual(replayed.data);
    });

    it('refuses a former name that is a type, or belongs to another type, and an unknown type', () => {
      expect(() => release2().formerNames('Nope', 'Old')).toThrow(
        'SerializerRegistry.formerNames(Nope): register Nope first',
      );
      const both = release2().register('Other', z.object({}));
      expect(() => both.formerNames('Other', 'TrainerMoved')).toThrow(
        'TrainerMoved is a registered type; a name is either a type or a former name',
      );
      expect(() => both.formerNames('Other', 'TrainerMovedEvent')).toThrow(
        'TrainerMovedEvent is already a former name of TrainerMoved',
      );
      expect(() => release2().register('TrainerMovedEvent', z.object({}))).toThrow(
        'TrainerMovedEvent is a former name of TrainerMoved',
      );
    });

    it('refuses an upcaster under a former name, which deserialize would never run', () => {
      // Upcasting runs under the current name (versions go on across a rename): a step under
      // the old one was never used, silently when the current name had that step too.
      const lift = (data: unknown) => {
        const { trainerId, x, y } = data as { trainerId: string; x: number; y: number };
        return { trainerId, position: { x, y } };
      };
      const advice =
        'TrainerMovedEvent is a former name of TrainerMoved: register its upcasters under ' +
        'TrainerMoved (schema versions go on across a rename)';
      // Declared former first, then the upcaster: refused at once.
      expect(() =>
        new SerializerRegistry()
          .register('TrainerMoved', TrainerMoved, { version: 2 })
          .formerNames('TrainerMoved', 'TrainerMovedEvent')
          .upcaster('TrainerMovedEvent', 1, lift),
      ).toThrow(new TypeError(`SerializerRegistry.upcaster(TrainerMovedEvent, 1): ${advice}`));
      // The upcaster first, then the rename: refused by formerNames.
      expect(() =>
        new SerializerRegistry()
          .register('TrainerMoved', TrainerMoved, { version: 2 })
          .upcaster('TrainerMovedEvent', 1, lift)
          .formerNames('TrainerMoved', 'TrainerMovedEvent'),
      ).toThrow(
        new TypeError(
          'SerializerRegistry.formerNames(TrainerMoved): TrainerMovedEvent has upcasters ' +
            '(from v1); register them under TrainerMoved (schema versions go on across a rename)',
        ),
      );
      // Registered on a shared chain directly: assertUpcastersComplete names it.
      const chain = new UpcasterChain();
      const shared = new SerializerRegistry({ upcasters: chain })
        .register('TrainerMoved', TrainerMoved, { version: 2 })
        .upcaster('TrainerMoved', 1, lift)
        .formerNames('TrainerMoved', 'TrainerMovedEvent');
      chain.register('TrainerMovedEvent', 1, () => ({ trainerId: 'never', position: {} }));
      expect(() => shared.assertUpcastersComplete()).toThrow(
        new TypeError(`the upcaster of TrainerMovedEvent v1 -> v2 would never run: ${advice}`),
      );
      // Even when it is the only one: named before the gap it leaves under the current name.
      const alone = new UpcasterChain();
      const onlyOld = new SerializerRegistry({ upcasters: alone })
        .register('TrainerMoved', TrainerMoved, { version: 2 })
        .formerNames('TrainerMoved', 'TrainerMovedEvent');
      alone.register('TrainerMovedEvent', 1, lift);
      expect(() => onlyOld.assertUpcastersComplete()).toThrow(
        new TypeError(`the upcaster of TrainerMovedEvent v1 -> v2 would never run: ${advice}`),
      );
      // Under the current name, old-name data is upcast as before.
      const old = release1().serialize(moved({ trainerId: 'ash', x: 3, y: 4 }));
      expect(shared.deserialize(old).data).toEqual({ trainerId: 'ash', position: { x: 3, y: 4 } });
    });
  });

  it('lists types and refuses invalid versions', () => {
    expect(registry().typeNames()).toEqual(['TrainerMovedEvent']);
    expect(registry().has('TrainerMovedEvent')).toBe(true);
    expect(() => registry().currentVersion('X')).toThrow(UnknownMessageTypeError);
    expect(() => new SerializerRegistry().register('X', z.object({}), { version: 0 })).toThrow(
      RangeError,
    );
  });
});
