import { trustProxySetting } from './trust-proxy.setting';

describe('TRUST_PROXY', () => {
  it('trusts no one when unset, empty or false', () => {
    for (const value of [undefined, '', ' , ', 'false'])
      expect(trustProxySetting.parse(value)).toBeUndefined();
  });

  it('reads addresses, CIDR ranges and the named sets as Express takes them', () => {
    expect(trustProxySetting.parse(' Loopback, 10.0.0.0/8 ,fd00::/8,192.0.2.1')).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
      '192.0.2.1',
    ]);
  });

  it('refuses anything else, naming the entry', () => {
    for (const bad of ['everyone', '10.0.0.0/33', '10.0.0.0/8/1', 'loopback,example.com']) {
      const result = trustProxySetting.safeParse(bad);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/^not an IP address, a CIDR range/);
    }
  });
});
