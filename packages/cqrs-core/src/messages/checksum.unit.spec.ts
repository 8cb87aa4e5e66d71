import { createHash } from 'node:crypto';
import { checksumMatches, checksumOf } from './checksum';

describe('checksum', () => {
  it('is sha256:<hex> of the UTF-8 bytes of the text', () => {
    const text = '{"name":"지우 🐉"}';
    const hex = createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');
    expect(checksumOf(text)).toBe(`sha256:${hex}`);
    expect(checksumOf('')).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('matches only the exact text', () => {
    const checksum = checksumOf('{"a":1,"b":2}');
    expect(checksumMatches('{"a":1,"b":2}', checksum)).toBe(true);
    expect(checksumMatches('{"b":2,"a":1}', checksum)).toBe(false);
    expect(checksumMatches('{"a":1,"b":2}', undefined)).toBe(false);
  });

  it('refuses a checksum with another prefix, a missing digit or extra text', () => {
    const checksum = checksumOf('{"a":1}');
    expect(checksumMatches('{"a":1}', checksum.replace('sha256:', 'sha512:'))).toBe(false);
    expect(checksumMatches('{"a":1}', checksum.slice(0, -1))).toBe(false);
    expect(checksumMatches('{"a":1}', `${checksum} `)).toBe(false);
    expect(checksumMatches('{"a":1}', `x${checksum}`)).toBe(false);
    expect(checksumMatches('{"a":1}', checksum.slice(7))).toBe(false);
  });
});
