import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import {
  demoTrainerState,
  launchBrowser,
  openDemoPage,
  openSseStream,
  removeNamespaceData,
  serverAddress,
  testNamespace,
  withDatabase,
  type SseFrame,
  type SseStream,
} from '@causeway/testkit';
import {
  launchSystem,
  planInstances,
  startEdgeProxy,
  stopSystem,
  type RunningInstance,
} from '../src';

/** The parts of an OpenAPI document these tests read. */
interface OpenApi {
  paths: Record<string, unknown>;
  components: { securitySchemes: Record<string, unknown> };
}
interface UiOptions {
  swaggerDoc: OpenApi;
}

// Issue #5 end to end on the real servers: command-api, two trainer-service instances,
// projection-worker and two sse-gateway instances as real processes; real HTTP clients and the
// `eventsource` client library.
describe('live trainer movement, distributed', () => {
  const ns = testNamespace('flow');
  let running: RunningInstance[] = [];
  const streams: SseStream[] = [];
  let api: string;
  let gateways: RunningInstance[];

  beforeAll(async () => {
    const instances = planInstances(
      {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: withDatabase(serverAddress('mongodb'), ns.database),
      },
      {
        scale: { 'sse-gateway': 2, 'trainer-service': 2 },
        // Ports 28 000–32 013: below Linux's ephemeral range (32 768+), where an outgoing
        // connection may hold the port, and clear of system.e2e.spec.ts's 23 000–27 913.
        portOffset: 25_000 + Math.floor(Math.random() * 4_000),
        adminToken: `flow-${ns.id}-admin-token`,
        jwtSecret: `flow-${ns.id}-jwt-secret-0123456789abcdef`,
        devTokens: true,
        logLevel: 'warn',
      },
    ).filter((instance) => instance.app !== 'order-processor');
    for (const instance of instances) {
      instance.env.TOPIC_PREFIX = ns.id;
      // These tests poll command statuses hard; rate limiting has its own test in command-api.
      instance.env.RATE_LIMIT_POINTS = '100000';
    }
    running = await launchSystem(instances, {
      root: path.resolve(__dirname, '..', '..', '..'),
      logDir: mkdtempSync(path.join(tmpdir(), 'causeway-flow-')),
    });
    api = running.find((i) => i.app === 'command-api')!.url;
    gateways = running.filter((i) => i.app === 'sse-gateway');
  }, 120_000);
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await stopSystem(running, 5_000);
    // The apps' keys (under TOPIC_PREFIX), event store, snapshots, outbox and checkpoints.
    await removeNamespaceData(ns, ['redis', 'mongodb', 'kafka']);
  }, 60_000);

  const tokens = new Map<string, string>();
  async function tokenOf(userId: string): Promise<string> {
    if (!tokens.has(userId)) {
      const response = await fetch(`${api}/api/dev/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId }),
      });
      expect(response.ok).toBe(true);
      tokens.set(userId, ((await response.json()) as { token: string }).token);
    }
    return tokens.get(userId)!;
  }
  async function connect(userId: string, gateway: RunningInstance, lastEventId?: string) {
    const stream = await openSseStream(`${gateway.url}/events`, {
      token: await tokenOf(userId),
      lastEventId,
      reconnect: false,
    });
    streams.push(stream);
    await stream.waitFor((f) => f.method === 'session', `${userId}'s session frame`);
    return stream;
  }
  async function move(userId: string, body: Record<string, unknown>, trainerId = userId) {
    const response = await fetch(`${api}/api/trainers/${trainerId}/move`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await tokenOf(userId)}`,
      },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
  async function settled(userId: string, commandId: string) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const response = await fetch(`${api}/api/commands/${commandId}`, {
        headers: { authorization: `Bearer ${await tokenOf(userId)}` },
      });
      const body = (await response.json()) as Record<string, unknown>;
      if (body.status !== 'accepted' || Date.now() > deadline) return body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  /** Redis stream ids `<ms>-<seq>` in frame order. */
  const strictlyIncreasing = (frames: SseFrame[]) =>
    frames.every((frame, i) => {
      if (i === 0) return true;
      const [ms, seq] = frame.id.split('-').map(Number) as [number, number];
      const [pms, pseq] = frames[i - 1]!.id.split('-').map(Number) as [number, number];
      return ms > pms || (ms === pms && seq > pseq);
    });
  const positionOf = (trainerId: string) => (f: SseFrame) =>
    f.method === 'position.update' && f.params.trainerId === trainerId;
  // command.result (trainer-service) and position.update (projection-worker) come from two
  // producers: either can reach the log first, so a test waits for the one it means.
  const resultOf = (commandId: unknown) => (f: SseFrame) =>
    f.method === 'command.result' && f.params.commandId === commandId;

  it("delivers a move to the user's connections on both gateways exactly once, and to everyone else", async () => {
    const [gw1, gw2] = gateways as [RunningInstance, RunningInstance];
    const ashOn1 = await connect('ash', gw1);
    const ashOn2 = await connect('ash', gw2);
    const mistyOn2 = await connect('misty', gw2);

    const moved = await move('ash', { directionX: 1, directionY: 1, action: 'start' });
    expect(moved.status).toBe(202);
    expect(await settled('ash', moved.body.commandId as string)).toMatchObject({
      status: 'processed',
    });
    const [frame] = await ashOn1.waitForCount(positionOf('ash'), 1, 'ash on gateway 1');
    await ashOn2.waitFor(positionOf('ash'), 'ash on gateway 2');
    await mistyOn2.waitFor(positionOf('ash'), 'the broadcast to misty');
    await ashOn1.waitFor((f) => f.method === 'command.result', "ash's command result");
    await ashOn2.waitFor((f) => f.method === 'command.result', "ash's command result on gateway 2");

    // A later broadcast proves the streams are live; by then no duplicate arrived anywhere.
    const misty = await move('misty', { directionX: -1, directionY: 0, action: 'start' });
    for (const stream of [ashOn1, ashOn2, mistyOn2])
      await stream.waitFor(positionOf('misty'), 'the later broadcast');
    await mistyOn2.waitFor(resultOf(misty.body.commandId), "misty's command result");
    for (const stream of [ashOn1, ashOn2, mistyOn2]) {
      const ids = stream.frames.map((f) => f.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(stream.frames.filter((f) => f.id === frame!.id)).toHaveLength(1);
    }
    // Another user's notifications never arrive: misty never sees ash's command results.
    expect(mistyOn2.frames.filter((f) => f.method === 'command.result')).toEqual([
      expect.objectContaining({
        params: expect.objectContaining({ commandId: misty.body.commandId }),
      }),
    ]);
  });

  it('resumes a dropped connection on the other gateway with every missed notification in order', async () => {
    const [gw1, gw2] = gateways as [RunningInstance, RunningInstance];
    const first = await connect('brock', gw1);
    const firstMove = await move('brock', { directionX: 0, directionY: 1, action: 'start' });
    await first.waitFor(positionOf('brock'), 'the first move');
    await first.waitFor(resultOf(firstMove.body.commandId), 'the first command result');
    const lastSeen = first.lastId();
    first.close();

    const missed: string[] = [];
    for (let i = 0; i < 5; i++) {
      const moved = await move('brock', { directionX: i + 1, directionY: 0, action: 'start' });
      missed.push(moved.body.commandId as string);
      await settled('brock', moved.body.commandId as string);
    }
    const resumed = await connect('brock', gw2, lastSeen);
    const session = resumed.frames.find((f) => f.method === 'session')!;
    expect(session.params.resumed).toBe('replayed');
    const results = await resumed.waitForCount(
      (f) => f.method === 'command.result',
      5,
      'the five missed command results',
    );
    expect(results.map((f) => f.params.commandId)).toEqual(missed);
    expect(strictlyIncreasing(resumed.frames.filter((f) => f.method !== 'session'))).toBe(true);
  });

  it("signs a user out everywhere: an operator's revoke ends their streams and command-api refuses their token", async () => {
    const token = await tokenOf('bruno');
    const [here, there] = [
      await connect('bruno', gateways[0]!),
      await connect('bruno', gateways[1]!),
    ];
    expect((await move('bruno', { directionX: 1, directionY: 0, action: 'start' })).status).toBe(
      202,
    );
    const ordered = await fetch(`${gateways[0]!.url}/api/presence/bruno/disconnect`, {
      method: 'POST',
      headers: {
        authorization: `Bearer flow-${ns.id}-admin-token`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ reason: 'signed out everywhere', revoke: true }),
    });
    expect(ordered.status).toBe(202);
    for (const stream of [here, there])
      await stream.waitFor((f) => f.method === 'disconnected', 'the disconnected frame');
    // command-api learns of the cut over Redis: the token that moved a moment ago is refused.
    const deadline = Date.now() + 5_000;
    let refused: Response | undefined;
    while (Date.now() < deadline) {
      const response = await fetch(`${api}/api/trainers/bruno/move`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ directionX: 0, directionY: 0, action: 'stop' }),
      });
      if (response.status === 401) {
        refused = response;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused?.status).toBe(401);
    expect(await refused!.json()).toMatchObject({ detail: expect.stringContaining('revoked') });
    const reopened = await fetch(`${gateways[1]!.url}/events`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(reopened.status).toBe(401);
  });

  it('ends 100 concurrent moves of one trainer, handled by two instances, with a consistent version', async () => {
    const commandIds = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const moved = await move('gary', {
          directionX: (i % 3) - 1 || 1,
          directionY: (i % 2) + 1,
          action: i % 4 === 3 ? 'stop' : 'start',
        });
        expect(moved.status).toBe(202);
        return moved.body.commandId as string;
      }),
    );
    const outcomes = await Promise.all(commandIds.map((id) => settled('gary', id)));
    expect(outcomes.filter((o) => o.status !== 'processed')).toEqual([]);
    const versions = outcomes.map((o) => o.version as number).sort((a, b) => a - b);
    // Every command produced exactly one event: versions are exactly 1…100 (0-based or 1-based).
    expect(new Set(versions).size).toBe(100);
    expect(versions.at(-1)! - versions[0]!).toBe(99);
    // The positions read model ends at the same version as the stream.
    const deadline = Date.now() + 20_000;
    let row: { trainerId: string; version: number } | undefined;
    do {
      const answer = (await (
        await fetch(`${gateways[0]!.url}/api/positions`, {
          headers: { authorization: `Bearer ${await tokenOf('gary')}` },
        })
      ).json()) as { positions: { trainerId: string; version: number }[] };
      row = answer.positions.find((p) => p.trainerId === 'gary');
      if (row?.version === versions.at(-1)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } while (Date.now() < deadline);
    expect(row?.version).toBe(versions.at(-1));
  });

  it('serves the demo page on the edge proxy: a move in one browser appears in another', async () => {
    const root = path.resolve(__dirname, '..', '..', '..');
    const edge = await startEdgeProxy(
      {
        commandApi: [api],
        gateways: gateways.map((g) => g.url),
        orderProcessor: [],
        demoDirectory: path.join(root, 'apps', 'embedded', 'public'),
      },
      { port: 0, host: '127.0.0.1' },
    );
    const browser = await launchBrowser();
    try {
      const url = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
      const iris = await openDemoPage(browser, url, 'iris');
      const cilan = await openDemoPage(browser, url, 'cilan');
      await iris.locator('#world').focus();
      await iris.keyboard.down('ArrowDown');
      await demoTrainerState(cilan, 'iris', true);
      await iris.keyboard.up('ArrowDown');
      const seen = await demoTrainerState(cilan, 'iris', false);
      expect(seen.y).toBeGreaterThan(0);
      expect(await demoTrainerState(iris, 'iris', false)).toEqual(seen);
    } finally {
      await browser.close();
      edge.closeAllConnections();
      await new Promise((resolve) => edge.close(resolve));
    }
  });

  it("documents on the edge's /docs only paths the edge forwards, in each of its forms", async () => {
    const edge = await startEdgeProxy(
      {
        commandApi: [api],
        gateways: gateways.map((g) => g.url),
        orderProcessor: [],
        demoDirectory: '',
      },
      { port: 0, host: '127.0.0.1' },
    );
    try {
      const url = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
      const json = (await (await fetch(`${url}/docs-json`)).json()) as OpenApi;
      const yaml = parseYaml(await (await fetch(`${url}/docs-yaml`)).text()) as OpenApi;
      // The Swagger UI page's document: its script holds it whole.
      const script = await (await fetch(`${url}/docs/swagger-ui-init.js`)).text();
      const ui = (JSON.parse(/let options = (\{[\s\S]*?\n\});/.exec(script)![1]!) as UiOptions)
        .swaggerDoc;
      for (const document of [json, yaml, ui]) {
        expect(Object.keys(document.paths)).toContain('/api/trainers/{trainerId}/move');
        expect(Object.keys(document.paths)).not.toContain('/admin/commands/{commandId}');
        // Nor the admin token, which only the removed operator route took.
        expect(Object.keys(document.components.securitySchemes)).toEqual(['bearer']);
      }
      // What a reader tries: each path listed answers through the edge, none edge-not-public.
      for (const documented of Object.keys(json.paths)) {
        const answer = await fetch(url + documented.replace(/\{[^}]+\}/g, 'x'));
        const body = await answer.text();
        expect([documented, body]).not.toEqual([
          documented,
          expect.stringContaining('edge-not-public'),
        ]);
      }
    } finally {
      edge.closeAllConnections();
      await new Promise((resolve) => edge.close(resolve));
    }
  });

  it('loses nothing for a client whose gateway is killed when it reconnects to the other one', async () => {
    const [gw1, gw2] = gateways as [RunningInstance, RunningInstance];
    const onFirst = await connect('dawn', gw1);
    const firstMove = await move('dawn', { directionX: 1, directionY: 0, action: 'start' });
    await onFirst.waitFor(positionOf('dawn'), "dawn's first move");
    await onFirst.waitFor(resultOf(firstMove.body.commandId), "dawn's first command result");
    const lastSeen = onFirst.lastId();
    gw1.child.kill('SIGKILL');
    await new Promise((resolve) => gw1.child.once('exit', resolve));
    onFirst.close();

    const sent: string[] = [];
    for (let i = 0; i < 3; i++) {
      const moved = await move('dawn', { directionX: 0, directionY: i + 1, action: 'start' });
      sent.push(moved.body.commandId as string);
    }
    const resumed = await connect('dawn', gw2, lastSeen);
    const results = await resumed.waitForCount(
      (f) => f.method === 'command.result',
      3,
      'the three results sent while dawn was disconnected',
    );
    expect(results.map((f) => f.params.commandId)).toEqual(sent);
    expect(strictlyIncreasing(resumed.frames.filter((f) => f.method !== 'session'))).toBe(true);
  });
});
