import { errorNameOf } from './error.name';

describe('errorNameOf', () => {
  it("names an error by its name, or by its class when it kept the inherited 'Error'", () => {
    class MyErr extends Error {}
    class Named extends Error {
      override name = 'NamedError';
    }
    expect(errorNameOf(new MyErr('x'))).toBe('MyErr');
    expect(errorNameOf(new Named('x'))).toBe('NamedError');
    expect(errorNameOf(new TypeError('x'))).toBe('TypeError');
    expect(errorNameOf(new Error('x'))).toBe('Error');
  });

  it("says 'Error' for an object that is no error, and names a thrown primitive by its type", () => {
    expect(errorNameOf('boom')).toBe('String');
    expect(errorNameOf({ message: 'boom' })).toBe('Error');
    expect(errorNameOf(undefined)).toBe('Error');
    expect(errorNameOf(null)).toBe('Error');
    expect(errorNameOf(Object.create(null))).toBe('Error');
  });
});
