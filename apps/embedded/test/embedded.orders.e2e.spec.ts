import path from 'node:path';
import {
  devToken,
  followProgress,
  startServiceProcess,
  type ServiceProcess,
} from '@causeway/testkit';

interface Accepted {
  taskId: string;
  statusUrl: string;
  subscribeUrl: string;
}

// SPEC S3 in the embedded mode (ADR 015): command-api's order intake publishes to the in-memory
// broker, order-processor's consumer runs the steps into the in-memory event store, the
// gateway streams the progress from the shared status store and notification log, and the
// progress reads answer — one process, no servers, everything over real HTTP and SSE.
describe('embedded mode: orders and their progress', () => {
  let app: ServiceProcess;
  const streams: { close(): void }[] = [];

  beforeAll(async () => {
    app = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        JWT_SECRET: 'embedded-orders-secret-0123456789-abcdef',
        DEV_TOKENS: 'true',
        LOG_LEVEL: 'warn',
        ORDER_STEP_DELAY_MS: '50',
      },
    });
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await app?.stop();
  });

  const follow = (route: string, token: string) => {
    const stream = followProgress(`${app.url}${route}`, token);
    streams.push(stream);
    return stream;
  };
  async function order(token: string, items: { sku: string; quantity: number }[]) {
    const response = await fetch(`${app.url}/api/v2/progress/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ items }),
    });
    expect(response.status).toBe(202);
    return (await response.json()) as Accepted;
  }
  const get = async (token: string, route: string) => {
    const response = await fetch(`${app.url}${route}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('lists the order endpoint in its OpenAPI document (the demo page shows its Orders panel)', async () => {
    const document = (await (await fetch(`${app.url}/docs-json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(document.paths['/api/v2/progress/orders']).toBeDefined();
    expect(document.paths['/api/v2/progress/subscribe']).toBeDefined();
  });

  it('lists the progress reads in its OpenAPI document, with their answers', async () => {
    type Operation = { responses: Record<string, { description: string }> };
    const document = (await (await fetch(`${app.url}/docs-json`)).json()) as {
      paths: Record<string, { get?: Operation }>;
      components: { schemas: Record<string, unknown> };
    };
    const reads = {
      '/api/v2/progress/status/{taskId}': ['200', '400', '401', '404', '429', '503'],
      '/api/v2/progress/history/{taskId}': ['200', '400', '401', '404', '429', '503'],
      '/api/v2/progress/user/{userId}': ['200', '400', '401', '403', '429', '503'],
      '/api/v2/progress/monitor': ['200', '401', '429'],
    };
    for (const [route, statuses] of Object.entries(reads)) {
      const responses = document.paths[route]?.get?.responses ?? {};
      expect({ route, statuses: Object.keys(responses).sort() }).toEqual({ route, statuses });
      // The limit is counted in the process here, not in Redis: the text says both.
      expect(responses['429']!.description).toContain('in the embedded mode, in its one process');
    }
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['ProgressStatus', 'ProgressEvent', 'ProgressMonitor']),
    );
  });

  it('runs an order to COMPLETED: the live stream shows each step and the status read agrees', async () => {
    const ash = await devToken(app.url, 'ash');
    const live = follow('/api/v2/progress/subscribe', ash);
    await live.opened;

    const placed = await order(ash, [{ sku: 'sku-book', quantity: 1 }]);
    expect(placed.statusUrl).toBe(`/api/v2/progress/status/${placed.taskId}`);
    const ofTask = () =>
      live.received.filter((r) => r.event === 'progress' && r.data.taskId === placed.taskId);
    await live.until(
      () => ofTask().some((r) => r.data.eventType === 'COMPLETED'),
      'the order COMPLETED on the stream',
    );
    const progress = ofTask().map((r) => r.data);
    expect(progress[0]).toMatchObject({ eventType: 'STARTED', userId: 'ash', percentage: 0 });
    expect(progress.at(-1)).toMatchObject({ eventType: 'COMPLETED', percentage: 100 });
    // Each step once, in order: the bar only moves forward.
    const steps = progress.map((event) => event.currentStep as number);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);

    const status = await get(ash, placed.statusUrl);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      taskId: placed.taskId,
      userId: 'ash',
      status: 'COMPLETED',
      percentage: 100,
      eventCount: progress.length,
      lastEventId: progress.at(-1)!.eventId,
    });
    const history = await get(ash, `/api/v2/progress/history/${placed.taskId}`);
    expect((history.body.events as { eventId: string }[]).map((e) => e.eventId)).toEqual(
      progress.map((event) => event.eventId),
    );

    // A stream opened afterwards starts from the shared status store: the task, finished.
    const later = follow(`/api/v2/progress/subscribe/${placed.taskId}`, ash);
    await later.until(() => later.received.length > 0, 'the recovery event');
    expect(later.received[0]).toMatchObject({
      event: 'recovery',
      data: { taskId: placed.taskId, status: 'COMPLETED', eventCount: progress.length },
    });

    // Another user neither reads it nor sees it.
    const misty = await devToken(app.url, 'misty');
    expect((await get(misty, placed.statusUrl)).status).toBe(404);
  });

  it('ends an order its steps refuse as FAILED, with the reason, on the stream and in the read', async () => {
    const brock = await devToken(app.url, 'brock');
    const live = follow('/api/v2/progress/subscribe', brock);
    await live.opened;
    const placed = await order(brock, [{ sku: 'sku-unicorn', quantity: 1 }]);
    await live.until(
      () =>
        live.received.some((r) => r.data.taskId === placed.taskId && r.data.eventType === 'FAILED'),
      'the order FAILED on the stream',
    );
    const status = await get(brock, placed.statusUrl);
    expect(status.body).toMatchObject({
      status: 'FAILED',
      reason: expect.stringContaining('sku-unicorn') as unknown,
    });
  });

  it('refuses a task id no task can have with 400 naming taskId on the reads and the stream', async () => {
    const ash = await devToken(app.url, 'ash');
    for (const route of ['status', 'history', 'subscribe'])
      expect(await get(ash, `/api/v2/progress/${route}/a%00b`)).toEqual({
        status: 400,
        body: expect.objectContaining({
          errors: [{ field: 'taskId', message: expect.any(String) }],
        }),
      });
  });

  it('puts no task history on the bus: it lives in a log of its own, not the trainer outbox', async () => {
    // In the trainer's event store, the outbox published every ProgressEvent to the broker
    // (`events.ProgressEvent`, read by no one), where it outlived PROGRESS_HISTORY_TTL_MS.
    const gary = await devToken(app.url, 'gary');
    const live = follow('/api/v2/progress/subscribe', gary);
    await live.opened;
    const placed = await order(gary, [{ sku: 'sku-book', quantity: 1 }]);
    await live.until(
      () =>
        live.received.some(
          (r) => r.data.taskId === placed.taskId && r.data.eventType === 'COMPLETED',
        ),
      'the order COMPLETED on the stream',
    );
    // The outbox's rounds (every second here) have run since the last step.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    // Counted per topic (what the bus carries: the stream's connection event, for one):
    expect(metrics).toMatch(/causeway_messages_published_total\{topic="[^"]*Event"/);
    expect(metrics).not.toMatch(/causeway_messages_published_total\{topic="[^"]*ProgressEvent"/);
  });

  it('counts the orders the broker accepted in causeway_messages_published_total', async () => {
    const misty = await devToken(app.url, 'misty');
    const published = async () => {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find((candidate) =>
          candidate.startsWith('causeway_messages_published_total{topic="order-events-v2"'),
        );
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const before = await published();
    await order(misty, [{ sku: 'sku-book', quantity: 1 }]);
    expect(await published()).toBe(before + 1);
  });
});
