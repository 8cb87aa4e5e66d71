import { type AppendOptions } from './event-store.port';
import {
  checkAppendOptions,
  checkDeleteStreamOptions,
  type DeleteStreamOptions,
} from './event-store.rules';

describe('checkAppendOptions', () => {
  const check = (options: unknown) => () => checkAppendOptions(options as AppendOptions);

  it.each([0, 1, 42, 'any', 'no-stream', 'exists'])('accepts expectedVersion %p', (value) => {
    expect(check({ expectedVersion: value })).not.toThrow();
  });

  it.each([
    ['nostream', '"nostream"'],
    ['NO-STREAM', '"NO-STREAM"'],
    ['1', '"1"'],
    ['', '""'],
    [-1, '-1'],
    [0.5, '0.5'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [null, 'null'],
    [undefined, 'undefined'],
  ])('refuses expectedVersion %p with a TypeError naming it', (value, shown) => {
    expect(check({ expectedVersion: value })).toThrow(
      new TypeError(
        `expectedVersion must be a non-negative integer, 'any', 'no-stream' or 'exists', got ${shown}`,
      ),
    );
  });

  it('refuses missing options as a missing expectedVersion', () => {
    expect(check(undefined)).toThrow(/^expectedVersion .* got undefined$/);
  });
});

describe('checkDeleteStreamOptions', () => {
  const check = (options: unknown) => () =>
    checkDeleteStreamOptions(options as DeleteStreamOptions);

  it.each([
    { mode: 'soft' },
    { mode: 'hard' },
    { mode: 'soft', expectedVersion: 3 },
    { mode: 'hard', expectedVersion: 'exists' },
    { mode: 'soft', expectedVersion: undefined },
  ])('accepts %p', (options) => {
    expect(check(options)).not.toThrow();
  });

  it.each([
    [{ mode: 'Soft' }, '"Soft"'],
    [{ mode: 'HARD' }, '"HARD"'],
    [{ mode: 'truncate' }, '"truncate"'],
    [{ mode: 1 }, '1'],
    [{}, 'undefined'],
    [undefined, 'undefined'],
  ])('refuses %p with a TypeError naming mode', (options, shown) => {
    expect(check(options)).toThrow(new TypeError(`mode must be 'soft' or 'hard', got ${shown}`));
  });

  it('refuses an expectedVersion outside the port, naming it', () => {
    expect(check({ mode: 'hard', expectedVersion: 'nostream' })).toThrow(
      /^expectedVersion must be .* got "nostream"$/,
    );
    expect(check({ mode: 'soft', expectedVersion: -2 })).toThrow(TypeError);
  });
});
