import { trustProxySetting } from './trust-proxy.setting';
import { TrustedProxies } from './trusted.proxies';

describe('TRUST_PROXY', () => {
  it('trusts no one when unset, empty or false', () => {
    for (const value of [undefined, '', ' , ', 'false'])
      expect(trustProxySetting.parse(value)).toBe(TrustedProxies.none);
  });

  it('reads addresses, CIDR ranges and the named sets, in any case and spacing', () => {
    const proxies = trustProxySetting.parse(' Loopback, 10.0.0.0/8 ,fd00::/8,192.0.2.1');
    for (const proxy of ['127.0.0.1', '10.9.9.9', 'fd00::5', '192.0.2.1'])
      expect(proxies.clientAddress(proxy, '203.0.113.9')).toBe('203.0.113.9');
    expect(proxies.clientAddress('192.0.2.2', '203.0.113.9')).toBe('192.0.2.2');
  });

  it('refuses anything else, naming the entry', () => {
    for (const bad of ['everyone', '10.0.0.0/33', '10.0.0.0/8/1', 'loopback,example.com']) {
      const result = trustProxySetting.safeParse(bad);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/^not an IP address, a CIDR range/);
    }
  });
});
