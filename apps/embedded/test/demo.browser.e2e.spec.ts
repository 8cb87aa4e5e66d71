import path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import {
  demoTrainerState,
  devToken,
  launchBrowser,
  openDemoPage,
  startServiceProcess,
  type ServiceProcess,
} from '@causeway/testkit';

/** Where a page's canvas last drew a trainer (world units) and when (epoch ms). */
interface Drawn {
  x: number;
  y: number;
  screenX: number;
  screenY: number;
  at: number;
}

// Records where the canvas draws each trainer, as a user would see it: its label is drawn at
// (x + 12, y + 4) of the dot, relative to the canvas centre, which shows the camera's position
// (world units); `screenX` / `screenY` are the dot's pixels on the canvas.
const RECORD_DRAWING = `(() => {
  const fillText = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    const camera = window.causewayDemo?.camera ?? { x: 0, y: 0 };
    (window.__drawn ??= {})[text] = {
      x: x - 12 - this.canvas.width / 2 + camera.x,
      y: y - 4 - this.canvas.height / 2 + camera.y,
      screenX: x - 12,
      screenY: y - 4,
      at: Date.now(),
    };
    return fillText.call(this, text, x, y, ...rest);
  };
  // …and keeps the page's /events streams, for a test to cut them, apart from the Orders
  // panel's progress streams, which the page opens too.
  window.EventSource = class extends EventSource {
    constructor(...args) {
      super(...args);
      const path = new URL(this.url).pathname;
      if (path === '/events') (window.__streams ??= []).push(this);
      if (path.startsWith('/api/v2/progress/')) (window.__progressStreams ??= []).push(this);
    }
  };
})();`;

/** Cuts the page's event stream as a network failure would: closed, and an error event. */
const CUT_STREAM = `(() => {
  const stream = window.__streams.at(-1);
  stream.close();
  stream.dispatchEvent(new Event('error'));
})()`;

const BROWSER_ADMIN_TOKEN = 'browser-test-admin-token-0123456789';

// The demo page in a real browser (Debian's Chromium driven by playwright-core): two users in
// two browser contexts; arrow keys in one move a trainer that the other sees.
describe('demo page in a browser (embedded mode)', () => {
  let app: ServiceProcess;
  let browser: Browser;

  beforeAll(async () => {
    app = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        JWT_SECRET: 'browser-test-secret-0123456789-abcdef',
        DEV_TOKENS: 'true',
        LOG_LEVEL: 'warn',
        ADMIN_TOKEN: BROWSER_ADMIN_TOKEN,
      },
    });
    browser = await launchBrowser();
  }, 60_000);
  // Every test's tabs are closed after it: tabs left open keep drawing and slow the next ones.
  const contexts: BrowserContext[] = [];
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  /**
   * Opens the demo page as `user` in a fresh context that records what its canvas draws;
   * `prepare` may route the context's requests first. Resolves once the stream is live.
   */
  async function open(
    user: string,
    prepare?: (context: BrowserContext) => Promise<void>,
  ): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    await context.addInitScript({ content: RECORD_DRAWING });
    await prepare?.(context);
    const page = await context.newPage();
    await page.goto(`${app.url}/?user=${encodeURIComponent(user)}`);
    await page.waitForSelector('body[data-stream="live"]', { timeout: 20_000 });
    return page;
  }

  /** Where `page` draws `trainerId`, once it draws it at all. */
  async function drawnOn(page: Page, trainerId: string): Promise<Drawn> {
    const handle = await page.waitForFunction(
      (id) => (globalThis as unknown as { __drawn?: Record<string, Drawn> }).__drawn?.[id],
      trainerId,
      { timeout: 10_000 },
    );
    return (await handle.jsonValue()) as Drawn;
  }

  /** The positions read model, as GET /api/positions shows it to `viewer`. */
  async function readModel(viewer: string, trainerId: string) {
    const token = await devToken(app.url, viewer);
    const response = await fetch(`${app.url}/api/positions`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const { positions } = (await response.json()) as {
      positions: { trainerId: string; isMoving: boolean; x: number }[];
    };
    return positions.find((position) => position.trainerId === trainerId);
  }

  /** Polls the read model until `trainerId` is (not) moving; bounded. */
  async function readModelShows(trainerId: string, moving: boolean, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const position = await readModel('read-model-viewer', trainerId);
      if (position?.isMoving === moving) return position;
      if (Date.now() > deadline)
        throw new Error(`${trainerId} is ${JSON.stringify(position)}, wanted isMoving ${moving}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('shows a move made with the arrow keys in one tab in another user’s tab', async () => {
    const ash = await openDemoPage(browser, app.url, 'ash');
    const misty = await openDemoPage(browser, app.url, 'misty');
    contexts.push(ash.context(), misty.context());

    await ash.locator('#world').focus();
    await ash.keyboard.down('ArrowRight');
    await demoTrainerState(misty, 'ash', true);
    await ash.keyboard.up('ArrowRight');
    const seen = await demoTrainerState(misty, 'ash', false);
    expect(seen.x).toBeGreaterThan(0);
    // …and the mover's own tab agrees on where it stopped.
    expect(await demoTrainerState(ash, 'ash', false)).toEqual(seen);
  });

  it('stops a trainer whose tab is closed while an arrow key is held', async () => {
    const brock = await open('brock');
    const viewer = await open('brock-viewer');

    await brock.locator('#world').focus();
    await brock.keyboard.down('ArrowRight');
    await demoTrainerState(viewer, 'brock', true);
    await brock.close();
    // The other tab sees it stop, and so does the read model.
    await demoTrainerState(viewer, 'brock', false, 5000);
    expect((await readModelShows('brock', false)).x).toBeGreaterThan(0);
  });

  it('stops a trainer whose tab is reloaded while an arrow key is held', async () => {
    const gary = await open('gary');
    const viewer = await open('gary-viewer');

    await gary.locator('#world').focus();
    await gary.keyboard.down('ArrowRight');
    await demoTrainerState(viewer, 'gary', true);
    await gary.reload();
    await gary.waitForSelector('body[data-stream="live"]', { timeout: 20_000 });
    await gary.keyboard.up('ArrowRight');
    await demoTrainerState(viewer, 'gary', false, 5000);
    await readModelShows('gary', false);
  });

  it('stops the own trainer when an arrow key pressed before this tab opened is released', async () => {
    // The key went down in another tab (or before a reload): this tab never saw it pressed.
    const first = await open('erika');
    await first.locator('#world').focus();
    await first.keyboard.down('ArrowLeft');
    const second = await open('erika');
    await demoTrainerState(second, 'erika', true);
    await second.locator('#world').focus();
    await second.keyboard.up('ArrowLeft');
    await demoTrainerState(second, 'erika', false, 5000);
    await readModelShows('erika', false);
    await first.close();
  });

  it('draws a trainer that was already moving where the tab that moves it draws it', async () => {
    const mover = await open('sabrina');
    await mover.locator('#world').focus();
    await mover.keyboard.down('ArrowRight');
    // Let it move for a while (150 units at 100/s) before the second tab opens.
    await mover.waitForFunction(
      () =>
        ((globalThis as unknown as { __drawn?: Record<string, Drawn> }).__drawn?.sabrina?.x ?? 0) >
        150,
      undefined,
      { timeout: 10_000 },
    );
    const late = await open('sabrina-viewer');
    await drawnOn(late, 'sabrina');
    // Two samples of the mover around one of the late tab: the late tab's dot lies between.
    const before = await drawnOn(mover, 'sabrina');
    const seen = await drawnOn(late, 'sabrina');
    const after = await drawnOn(mover, 'sabrina');
    await mover.keyboard.up('ArrowRight');

    const speed = (after.x - before.x) / Math.max(1, after.at - before.at);
    const expected = before.x + speed * (seen.at - before.at);
    // The tab's clock estimate lags by a frame's latency (50 units: 0.5 s at 100 units/s);
    // drawing from the wrong time was off by 150 units or more.
    expect(Math.abs(seen.x - expected)).toBeLessThan(50);
    expect(Math.abs(seen.y - before.y)).toBeLessThan(1);
  });

  it('draws a trainer that started moving while the stream was down where it is, after the replay', async () => {
    const viewer = await open('janine-viewer');
    const mover = await open('janine');
    // Its network goes down; the stream with it.
    await viewer.context().setOffline(true);
    await viewer.evaluate(CUT_STREAM);
    await viewer.waitForSelector('body[data-stream="reconnecting"]', { timeout: 10_000 });
    await mover.locator('#world').focus();
    await mover.keyboard.down('ArrowLeft');
    // It moves for a while (150 units at 100/s) before the viewer is back.
    await mover.waitForFunction(
      () =>
        ((globalThis as unknown as { __drawn?: Record<string, Drawn> }).__drawn?.janine?.x ?? 0) <
        -150,
      undefined,
      { timeout: 10_000 },
    );
    await viewer.context().setOffline(false);
    // The viewer resumes where it left off: the start of the move is replayed to it.
    await viewer.waitForSelector('body[data-stream="live"][data-session="replayed"]', {
      timeout: 20_000,
    });
    await demoTrainerState(viewer, 'janine', true);
    await viewer.waitForFunction(
      () =>
        (
          globalThis as unknown as { causewayDemo: { trainers: Map<string, { stale?: boolean }> } }
        ).causewayDemo.trainers.get('janine')?.stale !== true,
      undefined,
      { timeout: 5000 },
    );
    const before = await drawnOn(mover, 'janine');
    const seen = await drawnOn(viewer, 'janine');
    const after = await drawnOn(mover, 'janine');
    await mover.keyboard.up('ArrowLeft');

    const speed = (after.x - before.x) / Math.max(1, after.at - before.at);
    const expected = before.x + speed * (seen.at - before.at);
    // The tab's clock estimate lags by a frame's latency (50 units: 0.5 s at 100 units/s);
    // drawing from the wrong time was off by 150 units or more.
    expect(Math.abs(seen.x - expected)).toBeLessThan(50);
  });

  it('keeps the processed state of a command whose HTTP answer comes after its result', async () => {
    // The answer to the move is held back until the stream told the page the move was processed.
    let held: Promise<void> | undefined;
    const koga = await open('koga', async (context) => {
      await context.route('**/rpc', async (route) => {
        const response = await route.fetch();
        held = (async () => {
          await koga.waitForSelector('#command:text-matches("^(processed|rejected)")', {
            timeout: 10_000,
          });
          await route.fulfill({ response });
        })();
        await held;
      });
    });
    await koga.locator('#world').focus();
    const answered = koga.waitForEvent('requestfinished', {
      predicate: (request) => request.url().endsWith('/rpc'),
    });
    await koga.keyboard.down('ArrowUp');
    await answered;
    // Let the page handle the answer (two animation frames), then look.
    await koga.evaluate(
      'new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))',
    );
    await koga.context().unroute('**/rpc');
    expect(await koga.locator('#command').textContent()).toMatch(/^processed/);
    await koga.keyboard.up('ArrowUp');
  });

  it('renews its access token before it expires, so moves keep working', async () => {
    // Short-lived tokens (8 s) instead of the hour the page asks for.
    const issued: number[] = [];
    const refused: string[] = [];
    const lance = await open('lance', async (context) => {
      await context.route('**/api/dev/tokens', async (route) => {
        const body = JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>;
        const response = await route.fetch({ postData: { ...body, ttlSeconds: 8 } });
        issued.push(((await response.json()) as { expiresAt: number }).expiresAt);
        await route.fulfill({ response });
      });
      context.on('response', (response) => {
        if (response.status() === 401) refused.push(response.url());
      });
    });
    // Until the first token has expired.
    await new Promise((resolve) => setTimeout(resolve, issued[0]! + 300 - Date.now()));
    await lance.locator('#world').focus();
    await lance.keyboard.down('ArrowDown');
    await demoTrainerState(lance, 'lance', true, 5000);
    await lance.keyboard.up('ArrowDown');
    await demoTrainerState(lance, 'lance', false, 5000);
    // A new token was there before the old one expired: nothing was refused.
    expect(issued.length).toBeGreaterThan(1);
    expect(refused).toEqual([]);
    expect(await lance.locator('#log').textContent()).not.toContain('failed');
    // The stream opened for the first token ended with it, and resumed with the renewed one.
    await lance.locator('#log', { hasText: 'session ended' }).waitFor({ timeout: 5_000 });
    await lance.waitForSelector('body[data-stream="live"]', { timeout: 5_000 });
  });

  it("stays disconnected after an operator ends the user's streams, saying why", async () => {
    const koga = await open('koga');
    const ordered = await fetch(`${app.url}/api/presence/koga/disconnect`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${BROWSER_ADMIN_TOKEN}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ reason: 'gym closed for renovation' }),
    });
    expect(ordered.status).toBe(202);
    await koga.waitForSelector('body[data-stream="disconnected"]', { timeout: 5_000 });
    expect(await koga.locator('#log').textContent()).toContain('gym closed for renovation');
    // It does not come back by itself.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await koga.getAttribute('body', 'data-stream')).toBe('disconnected');
  });

  it.each([
    [
      'renews an expired access token',
      'clair',
      // What command-api answers for an expired token (command-api.http.e2e.spec.ts).
      { detail: 'token expired', reason: 'expired' },
      undefined,
    ],
    [
      'signs in again when the server no longer takes its token (restarted with another secret)',
      'lance',
      { detail: 'bearer token: invalid token: signature verification failed', reason: 'invalid' },
      'the server no longer takes our token: signing in again',
    ],
  ])('%s, and retries the move that was refused for it', async (_name, user, problem, logged) => {
    let refused = 0;
    let signIns = 0;
    const page = await open(user, async (context) => {
      await context.route('**/api/dev/tokens', async (route) => {
        signIns += 1;
        await route.continue();
      });
      await context.route('**/rpc', async (route) => {
        if (refused++ > 0) return route.continue();
        return route.fulfill({
          status: 401,
          contentType: 'application/problem+json',
          headers: {
            'www-authenticate': `Bearer realm="causeway", error="invalid_token", error_description="${problem.detail}"`,
          },
          body: JSON.stringify({
            type: 'https://causeway.dev/problems/unauthenticated',
            title: 'Unauthorized',
            status: 401,
            ...problem,
          }),
        });
      });
    });
    await page.locator('#world').focus();
    await page.keyboard.down('ArrowRight');
    await demoTrainerState(page, user, true, 5000);
    await page.keyboard.up('ArrowRight');
    await demoTrainerState(page, user, false, 5000);
    expect(signIns).toBe(2);
    if (logged) expect(await page.textContent('#log')).toContain(logged);
  });

  it('keeps your trainer in view when it walks past the edge of the canvas', async () => {
    const koga = await open('koga-walker');
    await koga.locator('#world').focus();
    await koga.keyboard.down('ArrowRight');
    // 100 units/s: past the 400 units from the centre to the edge after 4 s.
    await koga.waitForTimeout(5_500);
    await koga.keyboard.up('ArrowRight');
    await demoTrainerState(koga, 'koga-walker', false, 5000);
    const drawn = await drawnOn(koga, 'koga-walker');
    expect(drawn.x).toBeGreaterThan(450); // it walked that far…
    expect(drawn.screenX).toBeGreaterThanOrEqual(0); // …and is drawn on the canvas
    expect(drawn.screenX).toBeLessThanOrEqual(800);
  });

  it('fits a narrow window: nothing wider than the viewport', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 700 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${app.url}/?user=narrow`);
    await page.waitForSelector('body[data-stream="live"]', { timeout: 20_000 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
      375,
    );
  });

  it('works in 5 tabs of one browser (README), which opens 6 connections per host', async () => {
    // One context: its tabs share the browser's pool of 6 HTTP/1.1 connections to the app. A
    // page that kept a progress stream open besides its /events stream used 2 of them: the 4th
    // tab did not even load until a stream closed (CONNECTION_TIMEOUT_MS, 5 min). Each tab's
    // requests (the Orders panel's feature check here, moves) need a connection left free.
    const context = await browser.newContext();
    contexts.push(context);
    for (const user of ['tab-1', 'tab-2', 'tab-3', 'tab-4', 'tab-5']) {
      const page = await context.newPage();
      await page.goto(`${app.url}/?user=${user}`);
      await page.waitForSelector('body[data-stream="live"]', { timeout: 10_000 });
      await page.waitForSelector('body[data-orders="present"]', { timeout: 10_000 });
    }
  }, 90_000);

  it('shows the Orders panel and an order placed there from placed to COMPLETED, with its history', async () => {
    const page = await open('brock');
    await page.waitForSelector('body[data-orders="present"]', { timeout: 10_000 });
    expect(await page.$eval('#orders', (panel) => (panel as { hidden: boolean }).hidden)).toBe(
      false,
    );
    await page.click('#order-ok');
    const done = await page.waitForSelector('#tasks li[data-status="COMPLETED"]', {
      timeout: 30_000,
    });
    expect(await done.textContent()).toContain('100% COMPLETED');
    await (await done.$('button'))!.click();
    await page.waitForSelector('#history li:nth-child(5)', { timeout: 10_000 });
    const lines = await page.$$eval('#history li', (items) => items.map((i) => i.textContent));
    expect(lines.map((line) => /STARTED|PROGRESS|COMPLETED|FAILED/.exec(line ?? '')?.[0])).toEqual([
      'STARTED',
      'PROGRESS',
      'PROGRESS',
      'PROGRESS',
      'COMPLETED',
    ]);
    // Its progress stream is closed again: it would hold one of the browser's connections.
    await page.waitForSelector('#progress-status:text-matches("^closed")', { timeout: 10_000 });
  }, 45_000);

  it('follows an order unfinished when the page opened to COMPLETED (its progress stream opens for it)', async () => {
    const token = await devToken(app.url, 'erika');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const response = await fetch(`${app.url}/api/v2/progress/orders`, {
      method: 'POST',
      headers: { ...headers, 'idempotency-key': `erika-${Date.now()}` },
      body: JSON.stringify({ items: [{ sku: 'sku-book', quantity: 1 }] }),
    });
    const { taskId } = (await response.json()) as { taskId: string };
    for (let status = ''; status !== 'COMPLETED';) {
      const read = await fetch(`${app.url}/api/v2/progress/status/${taskId}`, { headers });
      status = read.ok ? ((await read.json()) as { status: string }).status : '';
      if (status !== 'COMPLETED') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The page reads the user's tasks while the order is still running (its first step): the
    // stream it then opens for it brings the rest.
    const page = await open('erika', async (context) => {
      await context.route('**/api/v2/progress/user/**', async (route) => {
        const answer = await route.fetch();
        const body = (await answer.json()) as { tasks: Record<string, unknown>[] };
        for (const task of body.tasks)
          Object.assign(task, { status: 'STARTED', percentage: 0, eventCount: 1, currentStep: 0 });
        await route.fulfill({ response: answer, json: body });
      });
    });
    const done = await page.waitForSelector(
      `#tasks li[data-task-id="${taskId}"][data-status="COMPLETED"]`,
      { timeout: 15_000 },
    );
    expect(await done.textContent()).toContain('100% COMPLETED');
    await page.waitForSelector('#progress-status:text-matches("^closed")', { timeout: 10_000 });
  }, 45_000);

  // The progress stream was reopened every 2 s, for ever, when the gateway refused it (503 full,
  // 429 rate limit: EventSource closes for good): every open tab at once (session 47). It backs
  // off as the trainer stream does: 0.5 s, 1 s, 2 s, 4 s … (plus jitter), up to 30 s.
  it('reopens a refused progress stream less and less often', async () => {
    const attempts: number[] = [];
    const page = await open('sabrina', async (context) => {
      await context.route('**/api/v2/progress/subscribe**', async (route) => {
        attempts.push(Date.now());
        await route.fulfill({
          status: 503,
          headers: { 'retry-after': '5' },
          contentType: 'application/problem+json',
          body: '{"status":503}',
        });
      });
    });
    await page.waitForSelector('body[data-orders="present"]', { timeout: 10_000 });
    await page.click('#order-ok');
    const deadline = Date.now() + 25_000;
    while (attempts.length < 5 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const gaps = attempts.slice(1, 5).map((at, i) => at - attempts[i]!);
    expect(gaps).toHaveLength(4);
    // The 4th wait is at least 4 s (a fixed 2 s before), and each at least the one before's base.
    expect(gaps[3]).toBeGreaterThanOrEqual(4_000);
    expect(gaps[2]).toBeGreaterThanOrEqual(2_000);
    expect(await page.textContent('#progress-status')).toBe('reconnecting');
  }, 45_000);

  it('never steps an order back when its stream replays older progress after a recovery', async () => {
    const page = await open('misty');
    await page.waitForSelector('body[data-orders="present"]', { timeout: 10_000 });
    await page.click('#order-ok');
    const done = await page.waitForSelector('#tasks li[data-status="COMPLETED"]', {
      timeout: 30_000,
    });
    const taskId = (await done.getAttribute('data-task-id'))!;
    const token = await devToken(app.url, 'misty');
    const history = (await (
      await fetch(`${app.url}/api/v2/progress/history/${taskId}`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { events: { eventType: string }[] };
    const step = history.events.find((event) => event.eventType === 'PROGRESS')!;
    // What a resumed stream (Last-Event-ID) delivers after its `recovery`: an event of the task
    // older than the state the page shows.
    await page.evaluate(
      (data) =>
        (globalThis as unknown as { __progressStreams: EventSource[] }).__progressStreams
          .at(-1)!
          .dispatchEvent(new MessageEvent('progress', { data })),
      JSON.stringify(step),
    );
    expect(await done.getAttribute('data-status')).toBe('COMPLETED');
    expect(await done.textContent()).toContain('100% COMPLETED');
  }, 45_000);

  // A tab left open kept every order it ever showed, in the list and in memory (session 47).
  it('shows the latest 20 orders, dropping the oldest finished ones', async () => {
    const page = await open('janine');
    await page.waitForSelector('body[data-orders="present"]', { timeout: 10_000 });
    await page.click('#order-ok');
    await page.waitForSelector('#progress-status:text-is("live")', { timeout: 10_000 });
    // Finished orders as a reconnect's `recovery` frames tell them, oldest first.
    const finished = Array.from({ length: 30 }, (_, i) => ({
      taskId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      status: 'COMPLETED',
      percentage: 100,
      stepName: 'done',
      eventCount: 5,
    }));
    await page.evaluate(
      (frames) => {
        const stream = (
          globalThis as unknown as { __progressStreams: EventSource[] }
        ).__progressStreams.at(-1)!;
        for (const data of frames) stream.dispatchEvent(new MessageEvent('recovery', { data }));
      },
      finished.map((task) => JSON.stringify(task)),
    );
    const shown = await page.$$eval('#tasks li', (items) => items.map((i) => i.dataset.taskId));
    expect(shown).toHaveLength(20);
    // The newest first; the order placed here is kept while it is unfinished, or among the 20.
    expect(shown.slice(0, 19)).toEqual(
      finished
        .slice(-19)
        .reverse()
        .map((task) => task.taskId),
    );
  }, 45_000);

  it('loads without errors in the console, its icon included', async () => {
    const errors: string[] = [];
    const whitney = await open('whitney', async (context) => {
      context.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      context.on('response', (response) => {
        if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
      });
    });
    // The icon a browser with a tab strip asks for (headless Chromium does not): the page's
    // <link rel="icon">, else /favicon.ico.
    const icon = await whitney.evaluate<string>(`(async () => {
      const link = document.querySelector('link[rel~="icon"]');
      const response = await fetch(link?.href ?? new URL('/favicon.ico', location.href).href);
      return response.status + ' ' + (link?.href ?? '/favicon.ico');
    })()`);
    expect(icon).toMatch(/^200 /);
    expect(errors).toEqual([]);
  });

  it('backs off while the gateway refuses its stream, and connects once it accepts', async () => {
    // The user's other connections fill MAX_CONNECTIONS_PER_USER (10): every open of the page's
    // stream is refused with 429, which ends an EventSource for good.
    const token = await devToken(app.url, 'crowded');
    const others = Array.from({ length: 10 }, () => new AbortController());
    const responses = await Promise.all(
      others.map((controller) =>
        fetch(`${app.url}/events`, {
          headers: { authorization: `Bearer ${token}` },
          signal: controller.signal,
        }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    const context = await browser.newContext();
    contexts.push(context);
    await context.addInitScript({ content: RECORD_DRAWING });
    const page = await context.newPage();
    await page.goto(`${app.url}/?user=crowded`);
    await page.waitForTimeout(5_000);
    // A fixed 0.5 s retry opens ~9 streams in 5 s; backing off from 0.5 s (doubling, with
    // jitter) at most 4.
    const opened = await page.evaluate<number>('window.__streams?.length ?? 0');
    expect(opened).toBeGreaterThanOrEqual(2);
    expect(opened).toBeLessThanOrEqual(4);
    expect(await page.getAttribute('body', 'data-stream')).not.toBe('live');
    // …saying why (HEAD /events tells what an EventSource cannot see), once.
    const said = ((await page.textContent('#log')) ?? '').match(/stream refused: [^;]*/g);
    expect(said).toEqual([
      'stream refused: too many streams of yours are open (at most 10: close a tab), or too many requests',
    ]);
    for (const controller of others) controller.abort();
    // The next attempt (at most 8–16 s after the fourth) finds a free slot.
    await page.waitForSelector('body[data-stream="live"]', { timeout: 25_000 });
  }, 45_000);
});
