import { type RateLimiterAbstract } from 'rate-limiter-flexible';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/**
 * A revocation or a disconnect order that arrives while an open is being checked (its token is
 * verified, then it awaits the rate limiter) still reaches that stream: it is checked again in
 * the step that registers it.
 */
let release: (() => void) | undefined;
let held: Promise<void> | undefined;
const rateLimiter = {
  consume: () =>
    (held ??= new Promise<void>((resolve) => {
      release = () => {
        held = undefined;
        resolve();
      };
    })),
} as unknown as RateLimiterAbstract;

describe('GET /events opened while its user is revoked or disconnected', () => {
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp({ rateLimiter });
  });
  afterAll(() => app.close());

  /** Opens, and resolves once the open is held in the rate limiter: its token was verified. */
  async function heldOpen(headers: Record<string, string>): Promise<{ answer: Promise<Response> }> {
    const answer = fetch(`${app.url}/events`, { headers });
    while (!held) await new Promise((resolve) => setTimeout(resolve, 2));
    // Wrapped: returning the promise itself would wait for the answer.
    return { answer };
  }

  it('refuses with 401 an open whose token was verified before the revocation', async () => {
    const headers = await app.bearer('sabrina');
    const { answer } = await heldOpen(headers);
    await app.revocations!.revoke('sabrina');
    release!();
    const response = await answer;
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      reason: 'invalid',
      detail: expect.stringContaining('token revoked: sign in again'),
    });
    expect(app.hub.connectionsOf('sabrina')).toHaveLength(0);
  });

  it('ends at once a stream whose checks began before a disconnect order', async () => {
    const { answer } = await heldOpen(await app.bearer('blaine'));
    expect(app.hub.disconnect('blaine', 'volcano closed')).toBe(0);
    release!();
    const response = await answer;
    expect(response.status).toBe(200);
    const text = await response.text(); // the stream ends by itself
    expect(text).toContain('"method":"disconnected"');
    expect(text).toContain('volcano closed');
    expect(text).not.toContain('"method":"session"');
    expect(app.hub.connectionsOf('blaine')).toHaveLength(0);
  });
});
