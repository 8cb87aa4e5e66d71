import { TrustedProxies } from './trusted.proxies';

describe('TrustedProxies', () => {
  it('trusts no one by default: the client is the peer, whatever X-Forwarded-For says', () => {
    for (const proxies of [
      TrustedProxies.none,
      TrustedProxies.parse(''),
      TrustedProxies.parse('false'),
    ])
      expect(proxies.clientAddress('127.0.0.1', '203.0.113.9')).toBe('127.0.0.1');
  });

  it('behind a trusted proxy, takes the address it appended — never one the client wrote', () => {
    const proxies = TrustedProxies.parse('loopback');
    expect(proxies.clientAddress('127.0.0.1', '198.51.100.7')).toBe('198.51.100.7');
    expect(proxies.clientAddress('::ffff:127.0.0.1', '198.51.100.7')).toBe('198.51.100.7');
    expect(proxies.clientAddress('::1', '2001:DB8::7')).toBe('2001:db8::7');
    // The client wrote "203.0.113.9, 10.0.0.1"; the proxy appended 198.51.100.7.
    expect(proxies.clientAddress('127.0.0.1', '203.0.113.9, 10.0.0.1, 198.51.100.7')).toBe(
      '198.51.100.7',
    );
    expect(proxies.clientAddress('127.0.0.1', ['203.0.113.9', '198.51.100.7'])).toBe(
      '198.51.100.7',
    );
    // No header: the proxy itself.
    expect(proxies.clientAddress('127.0.0.1', undefined)).toBe('127.0.0.1');
  });

  it('ignores X-Forwarded-For from a peer it does not trust', () => {
    const proxies = TrustedProxies.parse('loopback, 10.1.0.0/16');
    expect(proxies.clientAddress('198.51.100.7', '203.0.113.9')).toBe('198.51.100.7');
    expect(proxies.clientAddress('10.2.0.1', '203.0.113.9')).toBe('10.2.0.1');
  });

  it('walks leftwards past a chain of trusted proxies, to the first hop it does not trust', () => {
    const proxies = TrustedProxies.parse('127.0.0.1, 10.1.0.0/16, fd00::/8');
    expect(proxies.clientAddress('127.0.0.1', '203.0.113.9, 198.51.100.7, 10.1.2.3')).toBe(
      '198.51.100.7',
    );
    expect(proxies.clientAddress('127.0.0.1', '198.51.100.7, fd00::1')).toBe('198.51.100.7');
    // Everyone on the chain trusted: the leftmost, as far as it goes.
    expect(proxies.clientAddress('127.0.0.1', '10.1.0.9')).toBe('10.1.0.9');
  });

  it('stops at a trusted proxy that forwarded something other than an address', () => {
    const proxies = TrustedProxies.parse('loopback');
    expect(proxies.clientAddress('127.0.0.1', `203.0.113.9, ${'x'.repeat(5_000)}`)).toBe(
      '127.0.0.1',
    );
    expect(proxies.clientAddress('127.0.0.1', '198.51.100.7:4711')).toBe('127.0.0.1');
  });

  it.each([
    'everyone',
    'true',
    '10.0.0.0/33',
    '::1/129',
    '10.0.0.0/8/1',
    '10.0.0.0/x',
    '300.1.1.1',
  ])('refuses %s, naming it', (setting) => {
    expect(() => TrustedProxies.parse(`loopback,${setting}`)).toThrow(
      `not an IP address, a CIDR range, loopback, linklocal or uniquelocal: ${setting}`,
    );
  });

  it('believes X-Forwarded-Proto only from a trusted proxy, and only the value it set', () => {
    const proxies = TrustedProxies.parse('loopback');
    const local = { remoteAddress: '127.0.0.1' };
    expect(proxies.isSecure(local, 'https')).toBe(true);
    expect(proxies.isSecure({ remoteAddress: '::ffff:127.0.0.1' }, 'HTTPS')).toBe(true);
    // The client wrote "https"; the proxy appended what it saw: plain http.
    expect(proxies.isSecure(local, 'https, http')).toBe(false);
    expect(proxies.isSecure(local, ['http', 'https'])).toBe(true);
    expect(proxies.isSecure(local, undefined)).toBe(false);
    // A direct client's own header counts for nothing; its own TLS does.
    expect(proxies.isSecure({ remoteAddress: '198.51.100.7' }, 'https')).toBe(false);
    expect(TrustedProxies.none.isSecure(local, 'https')).toBe(false);
    expect(
      TrustedProxies.none.isSecure({ remoteAddress: '198.51.100.7', encrypted: true }, undefined),
    ).toBe(true);
  });
});
