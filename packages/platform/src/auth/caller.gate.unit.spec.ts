import { RateLimiterMemory } from 'rate-limiter-flexible';
import { TrustedProxies } from '../http/trusted.proxies';
import { CallerGate, type GateRequest, userKey } from './caller.gate';

class Refused extends Error {}
class Limited extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`retry in ${retryAfterSeconds} s`);
  }
}

const ash = { userId: 'ash', trainerIds: ['ash'] };
const from = (remoteAddress: string, forwardedFor?: string): GateRequest => ({
  headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  socket: { remoteAddress },
});

function gate(points: number, proxies?: TrustedProxies, warnings: string[] = []): CallerGate {
  return new CallerGate({
    limiter: new RateLimiterMemory({ points, duration: 60 }),
    proxies,
    limited: (seconds) => new Limited(seconds),
    refused: (error) => error instanceof Refused,
    warn: (message) => warnings.push(message),
  });
}

describe('CallerGate', () => {
  it('counts a caller by user id, whatever address they call from', async () => {
    const g = gate(2);
    await expect(g.admit(from('198.51.100.1'), async () => ash)).resolves.toBe(ash);
    await expect(g.admit(from('198.51.100.2'), async () => ash)).resolves.toBe(ash);
    const third = g.admit(from('198.51.100.3'), async () => ash);
    await expect(third).rejects.toBeInstanceOf(Limited);
    await expect(third).rejects.toMatchObject({ retryAfterSeconds: 60 });
    // Another user is not throttled by ash's calls.
    await expect(
      g.admit(from('198.51.100.1'), async () => ({ userId: 'misty', trainerIds: [] })),
    ).resolves.toMatchObject({ userId: 'misty' });
  });

  it('counts a refused credential by address, and answers 429 before 401 once over', async () => {
    const g = gate(1);
    const refuse = async () => {
      throw new Refused('bad token');
    };
    await expect(g.admit(from('198.51.100.1'), refuse)).rejects.toBeInstanceOf(Refused);
    await expect(g.admit(from('::ffff:198.51.100.1'), refuse)).rejects.toBeInstanceOf(Limited);
    await expect(g.admit(from('198.51.100.2'), refuse)).rejects.toBeInstanceOf(Refused);
  });

  it('does not charge an error that is not a refusal of the credential', async () => {
    const g = gate(1);
    const broken = async () => {
      throw new Error('token service down');
    };
    await expect(g.admit(from('198.51.100.1'), broken)).rejects.toThrow('token service down');
    await expect(g.admit(from('198.51.100.1'), broken)).rejects.toThrow('token service down');
  });

  it('keys by the forwarded address only behind a trusted proxy', async () => {
    const trusting = gate(1, TrustedProxies.parse('loopback'));
    expect(trusting.addressKey(from('127.0.0.1', '203.0.113.7'))).toBe('ip:203.0.113.7');
    const plain = gate(1);
    expect(plain.addressKey(from('127.0.0.1', '203.0.113.7'))).toBe('ip:127.0.0.1');
    expect(plain.addressKey({ headers: {}, socket: {} })).toBe('ip:unknown');
  });

  it('counts an IPv6 client by its /56: another address of its network buys no more refusals', async () => {
    const g = gate(1);
    const refuse = async () => {
      throw new Refused('bad token');
    };
    await expect(g.admit(from('2001:db8:1:2::10'), refuse)).rejects.toBeInstanceOf(Refused);
    // The same host's next address, another /64 of the same /56, the same address spelled out.
    await expect(g.admit(from('2001:db8:1:2::99'), refuse)).rejects.toBeInstanceOf(Limited);
    await expect(g.admit(from('2001:db8:1:ff:abcd::1'), refuse)).rejects.toBeInstanceOf(Limited);
    await expect(g.admit(from('2001:0DB8:0001:0002:0:0:0:10'), refuse)).rejects.toBeInstanceOf(
      Limited,
    );
    // Another /56 is another client.
    await expect(g.admit(from('2001:db8:1:300::10'), refuse)).rejects.toBeInstanceOf(Refused);
  });

  it('keys IPv6 clients by /56, forwarded ones too, and IPv4 ones by their address', () => {
    const trusting = gate(1, TrustedProxies.parse('loopback'));
    expect(trusting.addressKey(from('127.0.0.1', '2001:db8:aa:bbcc:1:2:3:4'))).toBe(
      'ip:2001:db8:aa:bb00::/56',
    );
    expect(trusting.addressKey(from('::1', '2001:db8::1'))).toBe('ip:2001:db8::/56');
    const plain = gate(1);
    expect(plain.addressKey(from('fe80::1:2%eth0'))).toBe('ip:fe80::/56');
    // IPv4 clients, also as a dual-stack socket shows them, keep one key per address: a /56
    // of `::ffff:a.b.c.d` (or `::a.b.c.d`) would put every IPv4 client in one bucket.
    expect(plain.addressKey(from('::ffff:198.51.100.7'))).toBe('ip:198.51.100.7');
    expect(plain.addressKey(from('::198.51.100.7'))).toBe('ip:::198.51.100.7');
    expect(plain.addressKey(from('::198.51.100.8'))).toBe('ip:::198.51.100.8');
  });

  it('charges extra points (a batch) to the same bucket', async () => {
    const g = gate(3);
    await g.admit(from('198.51.100.1'), async () => ash);
    await g.charge(userKey(ash), 2);
    await expect(g.charge(userKey(ash), 1)).rejects.toBeInstanceOf(Limited);
  });

  it('lets requests through, with a warning, when the counters cannot be reached', async () => {
    const warnings: string[] = [];
    const g = new CallerGate({
      limiter: {
        consume: () => Promise.reject(new Error('Redis is down')),
      } as unknown as RateLimiterMemory,
      limited: (seconds) => new Limited(seconds),
      refused: () => true,
      warn: (message) => warnings.push(message),
    });
    await expect(g.admit(from('198.51.100.1'), async () => ash)).resolves.toBe(ash);
    expect(warnings).toEqual([
      'rate limiter unavailable, requests let through until it answers again: Redis is down',
    ]);
  });

  it('warns once per outage, not per request: then at most once per warnEveryMs, and once when back', async () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    // The real limiter behind a switch standing in for its store going down and up.
    const counters = new RateLimiterMemory({ points: 1000, duration: 60 });
    let down = false;
    let clock = 1_000_000;
    const g = new CallerGate({
      limiter: {
        consume: (key: string, points: number) =>
          down ? Promise.reject(new Error('Redis is down')) : counters.consume(key, points),
      } as unknown as RateLimiterMemory,
      limited: (seconds) => new Limited(seconds),
      refused: () => true,
      warn: (message) => warnings.push(message),
      info: (message) => infos.push(message),
      warnEveryMs: 300,
      // A clock of the test's: however slowly the requests run, only `clock +=` moves time.
      now: () => clock,
    });
    const requests = async (n: number) => {
      for (let i = 0; i < n; i++)
        await expect(g.admit(from('198.51.100.1'), async () => ash)).resolves.toBe(ash);
    };
    await requests(3);
    down = true;
    await requests(50);
    expect(warnings).toEqual([
      'rate limiter unavailable, requests let through until it answers again: Redis is down',
    ]);
    clock += 400;
    await requests(20);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toBe(
      'rate limiter still unavailable after 0.4 s; 50 more requests let through: Redis is down',
    );
    clock += 100;
    down = false;
    await requests(20);
    expect(warnings).toHaveLength(2);
    expect(infos).toEqual([
      'rate limiter available again after 0.5 s; 70 requests were let through unlimited',
    ]);
    // Another outage is warned again.
    down = true;
    await requests(5);
    expect(warnings).toHaveLength(3);
    expect(infos).toHaveLength(1);
  });

  it('admits everyone without a limiter', async () => {
    const g = new CallerGate({
      limited: (seconds) => new Limited(seconds),
      refused: () => true,
      warn: () => undefined,
    });
    for (let i = 0; i < 5; i++)
      await expect(g.admit(from('198.51.100.1'), async () => ash)).resolves.toBe(ash);
  });
});
