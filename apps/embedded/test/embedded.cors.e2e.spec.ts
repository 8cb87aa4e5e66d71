import path from 'node:path';
import {
  devToken,
  startServiceProcess,
  type ServiceProcess,
  corsHeadersOf,
  corsMarked,
  corsPreflight,
} from '@causeway/testkit';

// CORS_ORIGINS in the embedded mode, where one server holds both APIs and both fast paths in
// front of Express (the commands, put there at setup, and GET /events, put there at boot): the
// CORS step runs before all of them.
const appDir = path.join(__dirname, '..');
const allowed = 'http://127.0.0.1:5500';
const other = 'http://127.0.0.1:5501';
const secret = 'embedded-cors-secret-0123456789-abcdef';

const corsHeaders = corsHeadersOf;
const marked = corsMarked(allowed);

describe('embedded mode with CORS_ORIGINS', () => {
  let app: ServiceProcess;
  const streams: AbortController[] = [];
  beforeAll(async () => {
    app = await startServiceProcess({
      appDir,
      env: { JWT_SECRET: secret, DEV_TOKENS: 'true', LOG_LEVEL: 'warn', CORS_ORIGINS: allowed },
    });
  });
  afterAll(async () => {
    for (const stream of streams) stream.abort();
    await app?.stop();
  });

  const move = (trainerId: string, origin: string | undefined, token?: string) =>
    fetch(`${app.url}/api/trainers/${trainerId}/move`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(origin && { Origin: origin }),
        ...(token && { Authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ directionX: 1, directionY: 0, action: 'start' }),
    });

  it.each(['/rpc', '/api/trainers/ash/move', '/events'])(
    'answers a preflight to %s from an allowed origin',
    async (route) => {
      const response = await fetch(`${app.url}${route}`, {
        method: 'OPTIONS',
        headers: {
          Origin: allowed,
          'Access-Control-Request-Method': route === '/events' ? 'GET' : 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type,last-event-id',
        },
      });
      expect(response.status).toBe(204);
      expect(corsHeaders(response)).toMatchObject(corsPreflight(allowed));
    },
  );

  it('marks a command answer, a 401 and the event stream for an allowed origin', async () => {
    const token = await devToken(app.url, 'ash');
    const accepted = await move('ash', allowed, token);
    expect(accepted.status).toBe(202);
    expect(corsHeaders(accepted)).toEqual(marked);
    const refused = await move('ash', allowed);
    expect(refused.status).toBe(401);
    expect(corsHeaders(refused)).toEqual(marked);

    const controller = new AbortController();
    streams.push(controller);
    const stream = await fetch(`${app.url}/events`, {
      headers: { Origin: allowed, Authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(corsHeaders(stream)).toEqual(marked);
    expect(stream.headers.get('vary')).toBe('Origin');
  });

  it('marks nothing for another origin, and leaves its preflights as they were', async () => {
    const refused = await move('ash', other);
    expect(refused.status).toBe(401);
    expect(corsHeaders(refused)).toEqual({});
    const preflight = await fetch(`${app.url}/rpc`, {
      method: 'OPTIONS',
      headers: { Origin: other, 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(405);
    expect(corsHeaders(preflight)).toEqual({});
  });
});

describe('embedded mode and CORS_ORIGINS at start-up', () => {
  it.each([
    ['*', 'CORS_ORIGINS: wildcards are not accepted'],
    [
      'localhost:5500',
      'CORS_ORIGINS: not an origin (scheme://host[:port], without path, e.g. https://app.example.com): localhost:5500',
    ],
  ])('refuses CORS_ORIGINS=%s, naming it', async (value, message) => {
    const refused = await startServiceProcess({
      appDir,
      env: { JWT_SECRET: secret, CORS_ORIGINS: value },
      waitFor: 'spawn',
    });
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain(message);
  });
});
