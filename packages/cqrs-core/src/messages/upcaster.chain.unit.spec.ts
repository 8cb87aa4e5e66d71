import { UpcasterChain } from './upcaster.chain';
import { MissingUpcasterError, UnsupportedSchemaVersionError } from './upcaster.errors';

describe('UpcasterChain', () => {
  const chain = () =>
    new UpcasterChain()
      // v1 {name} -> v2 {firstName, lastName} -> v3 {fullName: {first, last}}
      .register('UserRegistered', 2, (data) => {
        const { firstName, lastName } = data as { firstName: string; lastName: string };
        return { fullName: { first: firstName, last: lastName } };
      })
      .register('UserRegistered', 1, (data) => {
        const [firstName = '', lastName = ''] = (data as { name: string }).name.split(' ');
        return { firstName, lastName };
      });

  it('applies the steps in version order regardless of registration order', () => {
    expect(chain().upcast('UserRegistered', { name: 'Ash Ketchum' }, 1, 3)).toEqual({
      fullName: { first: 'Ash', last: 'Ketchum' },
    });
    expect(chain().upcast('UserRegistered', { firstName: 'A', lastName: 'K' }, 2, 3)).toEqual({
      fullName: { first: 'A', last: 'K' },
    });
  });

  it('returns current data untouched', () => {
    const data = { fullName: { first: 'A', last: 'K' } };
    expect(chain().upcast('UserRegistered', data, 3, 3)).toBe(data);
  });

  it('passes the metadata to every step', () => {
    const seen: unknown[] = [];
    const c = new UpcasterChain().register('T', 1, (data, metadata) => {
      seen.push(metadata.tenant);
      return data;
    });
    c.upcast('T', {}, 1, 2, { tenant: 'x' });
    expect(seen).toEqual(['x']);
  });

  it('names the missing link before running any step', () => {
    let ran = false;
    const c = new UpcasterChain().register('T', 1, (d) => {
      ran = true;
      return d;
    });
    const error = (() => {
      try {
        c.upcast('T', {}, 1, 3);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MissingUpcasterError);
    expect(error).toMatchObject({ type: 'T', fromVersion: 1, toVersion: 3, missingFrom: 2 });
    expect((error as Error).message).toContain('T v2 -> v3');
    expect(ran).toBe(false);
    expect(() => new UpcasterChain().assertComplete('Other', 1, 2)).toThrow(MissingUpcasterError);
  });

  it('refuses data of a newer version than the current one', () => {
    expect(() => chain().upcast('UserRegistered', {}, 4, 3)).toThrow(UnsupportedSchemaVersionError);
  });

  it('refuses a second upcaster for the same step and invalid versions', () => {
    expect(() => chain().register('UserRegistered', 1, (d) => d)).toThrow(/already registered/);
    expect(() => new UpcasterChain().register('T', 0, (d) => d)).toThrow(RangeError);
  });
});
