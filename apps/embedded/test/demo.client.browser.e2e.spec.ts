import path from 'node:path';
import { type TrainerPosition } from '@causeway/platform';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import {
  demoTrainerState,
  devToken,
  freePort,
  launchBrowser,
  startServiceProcess,
  type ServiceProcess,
} from '@causeway/testkit';

// The demo page (apps/embedded/public/demo.js) as a user meets it, driven in Debian's Chromium:
// a browser clock that is off, a stop that fails once, group changes, an app that restarts.

/** The browser's wall clock off by `ms` (a laptop without NTP); performance.now is untouched. */
const skewClock = (ms: number) => `(() => {
  const RealDate = Date;
  const skew = ${ms};
  class SkewedDate extends RealDate {
    constructor(...args) { if (args.length === 0) super(RealDate.now() + skew); else super(...args); }
    static now() { return RealDate.now() + skew; }
  }
  globalThis.Date = SkewedDate;
})();`;

type Row = Pick<
  TrainerPosition,
  'trainerId' | 'x' | 'y' | 'isMoving' | 'dirX' | 'dirY' | 'speed' | 'startedAt'
>;

describe('demo page, embedded mode', () => {
  let app: ServiceProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    app = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        JWT_SECRET: 'browser-client-secret-0123456789-abcdef',
        DEV_TOKENS: 'true',
        LOG_LEVEL: 'warn',
      },
    });
    browser = await launchBrowser();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  async function open(user: string, init?: string, prepare?: (c: BrowserContext) => Promise<void>) {
    const context = await browser.newContext();
    contexts.push(context);
    if (init) await context.addInitScript({ content: init });
    await prepare?.(context);
    const page = await context.newPage();
    await page.goto(`${app.url}/?user=${encodeURIComponent(user)}`);
    await page.waitForSelector('body[data-stream="live"]', { timeout: 20_000 });
    return page;
  }

  async function rows(viewer = 'viewer'): Promise<Row[]> {
    const token = await devToken(app.url, viewer);
    const response = await fetch(`${app.url}/api/positions`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return ((await response.json()) as { positions: Row[] }).positions;
  }

  /**
   * Where the page draws `trainerId`, and where the server's row says it is at that moment (the
   * server's clock is this machine's): the row is read first, the drawing taken between two
   * readings of the clock, so the load of the machine does not come between them.
   */
  async function drawnAndReal(page: Page, trainerId: string) {
    const row = (await rows()).find((r) => r.trainerId === trainerId)!;
    const before = Date.now();
    const drawn = (await drawnAt(page, trainerId))!;
    const at = (before + Date.now()) / 2;
    const seconds = row.isMoving ? (at - row.startedAt) / 1000 : 0;
    return { drawn, real: { x: row.x + row.dirX * row.speed * seconds } };
  }

  const drawnAt = (page: Page, id: string) =>
    page.evaluate<{ x: number; y: number } | undefined, string>(
      (trainerId) =>
        (
          globalThis as unknown as {
            causewayDemo: { drawnAt(id: string): { x: number; y: number } | undefined };
          }
        ).causewayDemo.drawnAt(trainerId),
      id,
    );

  async function rpc(user: string, method: string, params: Record<string, unknown>) {
    const token = await devToken(app.url, user);
    const response = await fetch(`${app.url}/rpc`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    return response.json();
  }

  /** `trainer.move` of the user's own trainer, east (dx 1) or stopping. */
  const walk = (user: string, action: 'start' | 'stop', directionX = 1, directionY = 0) =>
    rpc(user, 'trainer.move', {
      trainerId: user,
      directionX: action === 'start' ? directionX : 0,
      directionY: action === 'start' ? directionY : 0,
      action,
    });

  it('draws a moving trainer where it is when the browser clock is 30 s fast', async () => {
    const page = await open('skew-fast', skewClock(30_000));
    await page.locator('#world').focus();
    await page.keyboard.down('ArrowRight');
    await demoTrainerState(page, 'skew-fast', true);
    await page.waitForTimeout(1000);
    const { drawn, real } = await drawnAndReal(page, 'skew-fast');
    await page.keyboard.up('ArrowRight');
    expect(Math.abs(drawn.x - real.x)).toBeLessThan(60); // a 30 s clock error would be 3 000
  });

  it('draws an already-moving trainer where it is when the browser clock is 30 s slow', async () => {
    await walk('skew-mover', 'start');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const page = await open('skew-slow', skewClock(-30_000));
    await page.waitForFunction(() =>
      (
        globalThis as unknown as { causewayDemo: { trainers: Map<string, unknown> } }
      ).causewayDemo.trainers.has('skew-mover'),
    );
    const { drawn, real } = await drawnAndReal(page, 'skew-mover');
    await walk('skew-mover', 'stop');
    expect(Math.abs(drawn.x - real.x)).toBeLessThan(60); // a 30 s clock error would be 3 000
  });

  it('stops the trainer when the key is released even if the first stop request failed', async () => {
    // The stop meets a passing failure (a 503 `overloaded` / `command-refused`: "nothing was
    // sent, retry", or a network blip). The user has let go of the key.
    let failed = 0;
    const page = await open('lost-stop', undefined, async (context) => {
      await context.route('**/rpc', async (route) => {
        const body = route.request().postData() ?? '';
        if (body.includes('"stop"') && failed++ === 0)
          return route.fulfill({
            status: 503,
            contentType: 'application/problem+json',
            headers: { 'retry-after': '1' },
            body: JSON.stringify({
              type: 'https://causeway.dev/problems/overloaded',
              title: 'Service Unavailable',
              status: 503,
              detail: 'trainer-service is behind; nothing was sent, retry',
            }),
          });
        return route.continue();
      });
    });
    await page.locator('#world').focus();
    await page.keyboard.down('ArrowRight');
    await demoTrainerState(page, 'lost-stop', true);
    await page.keyboard.up('ArrowRight');
    let row: Row | undefined;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
      row = (await rows()).find((r) => r.trainerId === 'lost-stop');
      if (row && !row.isMoving) break;
      await page.waitForTimeout(200);
    }
    expect(row?.isMoving).toBe(false);
    expect(failed).toBeGreaterThanOrEqual(2); // the stop was sent again
  });

  it('shows the trainers of a group it joins (README: re-read /api/positions on a group change)', async () => {
    // misty moved once, then went into a room, and stands there.
    await walk('misty', 'start', 0, 1);
    await walk('misty', 'stop');
    await rpc('misty', 'group.join', { trainerId: 'misty', groupId: 'cerulean-gym' });
    // brock has moved before (a trainer that never moved cannot join a group), and joins the room
    // with the page's form.
    await walk('brock', 'start');
    await walk('brock', 'stop');
    const page = await open('brock');
    await page.fill('#group', 'cerulean-gym');
    await page.click('button[data-action="join"]');
    await page.waitForSelector('#command:text-matches("^processed")', { timeout: 15_000 });
    // The server now shows misty to brock…
    expect((await rows('brock')).map((r) => r.trainerId)).toContain('misty');
    // …and so does the page, which re-reads the positions once its join is processed (no frame
    // says misty came into sight: she stands still).
    await page.waitForFunction(
      () =>
        (
          globalThis as unknown as { causewayDemo: { trainers: Map<string, unknown> } }
        ).causewayDemo.trainers.has('misty'),
      undefined,
      { timeout: 10_000 },
    );
  });

  it('gives up, saying so, on a user name the server refuses, instead of asking again for ever', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    let asked = 0;
    page.on('request', (request) => {
      if (request.url().endsWith('/api/dev/tokens')) asked += 1;
    });
    await page.goto(`${app.url}/?user=${'u'.repeat(129)}`); // the limit is 128
    await page.waitForSelector('body[data-stream="refused"]', { timeout: 10_000 });
    await page.waitForTimeout(3_000);
    expect(asked).toBe(1);
    expect(await page.locator('#log').textContent()).toContain('start failed: userId');
  });

  it('stops drawing a trainer that went out of sight (joined a private group)', async () => {
    await walk('sabrina', 'start');
    const viewer = await open('public-viewer');
    await demoTrainerState(viewer, 'sabrina', true);
    // sabrina joins a private party: she stops (seen by all), then is visible to the party only.
    await rpc('sabrina', 'group.join', { trainerId: 'sabrina', groupId: 'saffron-private-7f3a' });
    await demoTrainerState(viewer, 'sabrina', false);
    expect((await rows('public-viewer')).map((r) => r.trainerId)).not.toContain('sabrina');
    // README: re-read /api/positions "periodically, and drop the trainers it no longer lists"
    // (the page does every 15 s).
    await viewer.waitForFunction(
      () =>
        !(
          globalThis as unknown as { causewayDemo: { trainers: Map<string, unknown> } }
        ).causewayDemo.trainers.has('sabrina'),
      undefined,
      { timeout: 30_000 },
    );
  }, 40_000);
});

describe('demo page: the app restarts (embedded mode, in-memory)', () => {
  it('forgets the trainers a `recovery` frame no longer lists (README: replace what you show)', async () => {
    const port = await freePort();
    const env = {
      JWT_SECRET: 'browser-client-secret-0123456789-abcdef',
      DEV_TOKENS: 'true',
      LOG_LEVEL: 'warn',
      PORT: String(port),
    };
    const appDir = path.join(__dirname, '..');
    let app = await startServiceProcess({ appDir, env });
    const browser = await launchBrowser();
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${app.url}/?user=surge`);
      await page.waitForSelector('body[data-stream="live"]', { timeout: 20_000 });
      const token = await devToken(app.url, 'koga');
      await fetch(`${app.url}/rpc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'trainer.move',
          params: { trainerId: 'koga', directionX: 1, directionY: 0, action: 'start' },
        }),
      });
      await demoTrainerState(page, 'koga', true);
      // The app restarts (an operator, a deploy): its in-memory world is empty again.
      await app.stop();
      app = await startServiceProcess({ appDir, env });
      await page.waitForSelector('body[data-stream="live"][data-session="recovery"]', {
        timeout: 40_000,
      });
      const koga = await page.evaluate(() =>
        (
          globalThis as unknown as {
            causewayDemo: { drawnAt(id: string): { x: number } | undefined };
          }
        ).causewayDemo.drawnAt('koga'),
      );
      const token2 = await devToken(app.url, 'viewer');
      const { positions } = (await (
        await fetch(`${app.url}/api/positions`, { headers: { authorization: `Bearer ${token2}` } })
      ).json()) as { positions: unknown[] };
      expect(positions).toEqual([]);
      expect(koga).toBeUndefined();
    } finally {
      await browser.close();
      await app.stop();
    }
  }, 90_000);
  it('notices a frozen server by its missing heartbeats and resumes, instead of waiting for ever', async () => {
    const port = await freePort();
    const appDir = path.join(__dirname, '..');
    const frozen = await startServiceProcess({
      appDir,
      env: {
        JWT_SECRET: 'browser-client-secret-0123456789-abcdef',
        DEV_TOKENS: 'true',
        LOG_LEVEL: 'warn',
        PORT: String(port),
        HEARTBEAT_MS: '300',
      },
    });
    const browser = await launchBrowser();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${frozen.url}/?user=sabrina`);
      await page.waitForSelector('body[data-stream="live"][data-session="new"]', {
        timeout: 20_000,
      });
      // Frozen (SIGSTOP) its sockets stay open and silent: an EventSource alone never notices.
      // The page gives the stream up after 3 heartbeat intervals (0.9 s) and opens a new one,
      // which the server answers once it runs again: a resumed session.
      frozen.child.kill('SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      frozen.child.kill('SIGCONT');
      await page.waitForSelector('body[data-stream="live"][data-session="replayed"]', {
        timeout: 20_000,
      });
      expect(await page.locator('#log').textContent()).toContain('nothing heard for 1 s');
    } finally {
      frozen.child.kill('SIGCONT');
      await browser.close();
      await frozen.stop();
    }
  }, 90_000);
});
