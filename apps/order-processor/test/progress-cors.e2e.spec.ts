import { randomUUID } from 'node:crypto';
import { corsHeadersOf, corsMarked, corsPreflight } from '@causeway/testkit';
import { useOrderProcessor } from './order-processor.harness';

// A page on another origin (CORS_ORIGINS on command-api and sse-gateway) places an order and
// follows its stream; the 202's statusUrl and the history are order-processor's reads: they
// must answer that page as the other apps do (and as the embedded mode does), or its browser
// refuses them.
const allowed = 'http://127.0.0.1:5500';
const other = 'http://127.0.0.1:5501';

describe('order-processor with CORS_ORIGINS', () => {
  const app = useOrderProcessor('progresscors', () => ({ CORS_ORIGINS: allowed }));
  const { read, tokens } = app;

  it('answers a preflight to a progress read from an allowed origin', async () => {
    const preflight = await read(`status/${randomUUID()}`, undefined, {
      method: 'OPTIONS',
      headers: {
        Origin: allowed,
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(corsHeadersOf(preflight)).toMatchObject(corsPreflight(allowed));
  });

  it('marks the reads and their errors for an allowed origin, and no other', async () => {
    const ash = (await tokens.issue('ash')).token;
    const mine = await read('user/ash', ash, { headers: { Origin: allowed } });
    expect(mine.status).toBe(200);
    expect(corsHeadersOf(mine)).toEqual(corsMarked(allowed));
    const unknown = await read(`status/${randomUUID()}`, ash, { headers: { Origin: allowed } });
    expect(unknown.status).toBe(404);
    expect(corsHeadersOf(unknown)).toEqual(corsMarked(allowed));
    const refused = await read('monitor', undefined, { headers: { Origin: allowed } });
    expect(refused.status).toBe(401);
    expect(corsHeadersOf(refused)).toEqual(corsMarked(allowed));

    const elsewhere = await read('user/ash', ash, { headers: { Origin: other } });
    expect(elsewhere.status).toBe(200);
    expect(corsHeadersOf(elsewhere)).toEqual({});
  });
});
