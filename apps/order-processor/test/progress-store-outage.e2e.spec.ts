import { serverAddress, StallingProxy } from '@causeway/testkit';
import { useOrderProcessor } from './order-processor.harness';

// The app was ready, then MongoDB went away (a restart, a network cut): its /docs-json says a
// read answers 503 `not-ready` with Retry-After while MongoDB is unreachable, and the reads come
// back by themselves once it is back.
describe('order-processor: progress reads while MongoDB is unreachable after the start', () => {
  let proxy: StallingProxy;
  let proxyPort: number;
  beforeAll(async () => {
    const proxied = await StallingProxy.inFrontOf(serverAddress('mongodb'), 27017);
    proxy = proxied.proxy;
    proxyPort = Number(new URL(proxied.url).port);
  });
  afterAll(() => proxy?.close());

  const app = useOrderProcessor('progressoutage', (ns) => {
    const uri = new URL(ns.mongoUri());
    uri.hostname = '127.0.0.1';
    uri.port = String(proxyPort);
    return { MONGODB_URI: uri.toString(), MONGODB_TIMEOUT_MS: '1000' };
  });

  it('answers 503 not-ready with Retry-After (not a 500), then answers again once MongoDB is back', async () => {
    const ash = (await app.tokens.issue('ash')).token;
    const routes = ['status/t-1', 'history/t-1'];
    for (const route of routes) expect((await app.read(route, ash)).status).toBe(404);

    await proxy.close(); // MongoDB unreachable: connections cut, new ones refused
    for (const route of routes) {
      const response = await app.read(route, ash);
      const body = (await response.json()) as Record<string, unknown>;
      expect({ route, status: response.status, type: body.type }).toEqual({
        route,
        status: 503,
        type: 'https://causeway.dev/problems/not-ready',
      });
      expect(response.headers.get('retry-after')).toBe('1');
      // The driver's error names hosts and ports: the operators' (logged), not the caller's.
      expect(JSON.stringify(body)).not.toContain(String(proxyPort));
    }

    await proxy.listen(proxyPort);
    const deadline = Date.now() + 20_000;
    let statuses: number[] = [];
    do {
      statuses = [];
      for (const route of routes) statuses.push((await app.read(route, ash)).status);
      if (statuses.every((status) => status === 404)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    } while (Date.now() < deadline);
    expect(statuses).toEqual([404, 404]);
  }, 60_000);
});
