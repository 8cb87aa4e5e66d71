import { jsonDocumentOf, type JsonObject, type JsonValue } from './json.document';
import { applyMergePatch, jsonEquals, mergePatchOf } from './merge-patch';

describe('applyMergePatch', () => {
  // RFC 7386, Appendix A: every example case.
  const cases: [JsonValue, JsonValue, JsonValue][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];

  it.each(cases)('RFC 7386 example: %j patched with %j gives %j', (target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result);
  });

  it('changes neither the target nor the patch', () => {
    const target = { a: { b: 1 }, c: [1] };
    const patch = { a: { b: 2 }, c: null };
    applyMergePatch(target, patch);
    expect(target).toEqual({ a: { b: 1 }, c: [1] });
    expect(patch).toEqual({ a: { b: 2 }, c: null });
  });

  it('keeps a __proto__ member of a stored patch as a member, never as the prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}}') as JsonObject;
    const result = applyMergePatch({}, patch) as JsonObject;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.keys(result)).toEqual(['__proto__']);
  });
});

describe('mergePatchOf', () => {
  it('names what was added, changed and removed, nested objects as patches of their own', () => {
    const before = { name: 'Ash', email: 'a@x', address: { city: 'Pallet', zip: '1' }, tags: [1] };
    const after = { name: 'Ash', address: { city: 'Viridian', zip: '1' }, tags: [1, 2], age: 10 };
    expect(mergePatchOf(before, after)).toEqual({
      email: null,
      address: { city: 'Viridian' },
      tags: [1, 2],
      age: 10,
    });
  });

  it('is empty for equal documents, whatever the order of their members', () => {
    expect(
      mergePatchOf({ a: 1, b: { c: [1, { d: 2 }] } }, { b: { c: [1, { d: 2 }] }, a: 1 }),
    ).toEqual({});
  });

  it('replaces a member that turns from a value into an object, and back', () => {
    expect(mergePatchOf({ a: 1 }, { a: { b: 1 } })).toEqual({ a: { b: 1 } });
    expect(mergePatchOf({ a: { b: 1 } }, { a: 1 })).toEqual({ a: 1 });
  });

  it('gives back `after` when applied to `before`, for 2 000 random pairs of documents', () => {
    const random = seeded(7386);
    for (let i = 0; i < 2000; i++) {
      const before = randomDocument(random, 3);
      const after = random() < 0.3 ? before : mutated(random, before, 3);
      const patch = mergePatchOf(before, after);
      const applied = applyMergePatch(before, patch);
      if (!jsonEquals(applied, after))
        throw new Error(`pair ${i}: ${JSON.stringify({ before, after, patch, applied })}`);
    }
  });
});

describe('jsonDocumentOf', () => {
  it('copies deeply and leaves out null and undefined members, keeping nulls inside arrays', () => {
    const source = { a: null, b: undefined, c: { d: null, e: [null, 1] }, f: 'x' };
    const copy = jsonDocumentOf(source, 'users/u1');
    expect(copy).toEqual({ c: { e: [null, 1] }, f: 'x' });
    expect(Object.keys(copy)).toEqual(['c', 'f']);
    (copy.c as JsonObject).e = [];
    expect(source.c.e).toEqual([null, 1]);
  });

  it.each([
    [{ at: new Date(0) }, 'users/u1: at is a Date'],
    [{ a: { n: Number.NaN } }, 'users/u1: a.n is NaN'],
    [{ list: [1, Infinity] }, 'users/u1: list[1] is Infinity'],
    [{ big: 1n }, 'users/u1: big is a bigint'],
    [{ fn: () => 1 }, 'users/u1: fn is a function'],
    [{ map: new Map() }, 'users/u1: map is a Map'],
  ])('refuses %p, naming the path', (value, message) => {
    expect(() => jsonDocumentOf(value, 'users/u1')).toThrow(message);
  });

  it('refuses a cycle, a __proto__ key and a value that is not an object', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => jsonDocumentOf(cyclic, 'd/1')).toThrow('d/1: self is a cycle');
    expect(() => jsonDocumentOf(JSON.parse('{"__proto__": 1}'), 'd/1')).toThrow(
      'd/1: __proto__ is the key __proto__',
    );
    expect(() => jsonDocumentOf([1], 'd/1')).toThrow(
      'd/1: a document must be a plain JSON object, got an array',
    );
  });

  it('accepts the same object twice in one document (a shared, not a cyclic, reference)', () => {
    const shared = { x: 1 };
    expect(jsonDocumentOf({ a: shared, b: shared }, 'd/1')).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });
});

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const KEYS = ['a', 'b', 'c', 'd', 'e'];

function randomValue(random: () => number, depth: number): JsonValue {
  const pick = random();
  if (depth > 0 && pick < 0.25) return randomDocument(random, depth - 1);
  if (pick < 0.4) return [Math.floor(random() * 3), 'x'];
  if (pick < 0.6) return Math.floor(random() * 5);
  if (pick < 0.8) return ['s', 't', 'u'][Math.floor(random() * 3)]!;
  return random() < 0.5;
}

function randomDocument(random: () => number, depth: number): JsonObject {
  const document: JsonObject = {};
  for (const key of KEYS) if (random() < 0.5) document[key] = randomValue(random, depth);
  return document;
}

function mutated(random: () => number, document: JsonObject, depth: number): JsonObject {
  const copy: JsonObject = {};
  for (const key of KEYS) {
    const value = document[key];
    const roll = random();
    if (roll < 0.2) continue; // removed
    if (roll < 0.4 || value === undefined) {
      if (random() < 0.5) copy[key] = randomValue(random, depth);
    } else if (roll < 0.6 && value !== null && typeof value === 'object' && !Array.isArray(value))
      copy[key] = mutated(random, value, depth - 1);
    else copy[key] = value;
  }
  return copy;
}
