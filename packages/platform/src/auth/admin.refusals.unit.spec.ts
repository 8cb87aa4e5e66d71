import { type IncomingMessage } from 'node:http';
import { ProblemException } from '@causeway/cqrs-core/nest';
import { TrustedProxies } from '../http/trusted.proxies';
import { ADMIN_REFUSALS, adminRefusals } from './admin.refusals';

const from = (remoteAddress: string, forwardedFor?: string) =>
  ({
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    socket: { remoteAddress },
  }) as unknown as IncomingMessage;

describe('adminRefusals (in this process)', () => {
  it('answers 429 with Retry-After once an address has spent its refusals, and counts each address apart', async () => {
    const refused = adminRefusals({ warn: () => undefined });
    for (let i = 0; i < ADMIN_REFUSALS.points; i++)
      await expect(refused(from('198.51.100.1'))).resolves.toBeUndefined();
    const limited = await refused(from('198.51.100.1')).catch((error: unknown) => error);
    expect(limited).toBeInstanceOf(ProblemException);
    expect((limited as ProblemException).getStatus()).toBe(429);
    expect((limited as ProblemException).getResponse()).toMatchObject({
      type: 'https://causeway.dev/problems/rate-limited',
      detail: expect.stringContaining('without the admin token'),
    });
    const retryAfter = Number((limited as ProblemException).headers['Retry-After']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(ADMIN_REFUSALS.windowSeconds);
    // Another address is not throttled by the first one's guesses.
    await expect(refused(from('198.51.100.2'))).resolves.toBeUndefined();
  });

  it("charges the address a trusted proxy forwarded, not the proxy's", async () => {
    const refused = adminRefusals({
      proxies: TrustedProxies.parse('10.0.0.1'),
      warn: () => undefined,
    });
    for (let i = 0; i < ADMIN_REFUSALS.points; i++) await refused(from('10.0.0.1', '203.0.113.9'));
    await expect(refused(from('10.0.0.1', '203.0.113.9'))).rejects.toBeInstanceOf(ProblemException);
    await expect(refused(from('10.0.0.1', '203.0.113.10'))).resolves.toBeUndefined();
  });
});
