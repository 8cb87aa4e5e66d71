import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServiceProcess, type ServiceProcess } from '@causeway/testkit';

function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
}

// The demo page in a real browser (Debian's Chromium driven by playwright-core): two users in
// two browser contexts; arrow keys in one move a trainer that the other sees.
describe('demo page in a browser', () => {
  let app: ServiceProcess;
  let browser: Browser;

  beforeAll(async () => {
    app = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: { JWT_SECRET: 'browser-test-secret-0123456789-abcdef', LOG_LEVEL: 'warn' },
    });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-extensions',
        '--no-first-run',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  async function open(user: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${app.url}/?user=${user}`);
    await page.waitForSelector('body[data-stream="live"]', { timeout: 20_000 });
    return page;
  }

  it('shows a move made with the arrow keys in one tab in another user’s tab', async () => {
    const ash = await open('ash');
    const misty = await open('misty');

    await ash.locator('#world').focus();
    await ash.keyboard.down('ArrowRight');
    await misty.waitForFunction(
      () =>
        (
          globalThis as unknown as {
            causewayDemo: { trainers: Map<string, { isMoving: boolean }> };
          }
        ).causewayDemo.trainers.get('ash')?.isMoving === true,
      undefined,
      { timeout: 15_000 },
    );
    await ash.keyboard.up('ArrowRight');
    const stoppedAt = await misty.waitForFunction(
      () => {
        const t = (
          globalThis as unknown as {
            causewayDemo: { trainers: Map<string, { isMoving: boolean; x: number }> };
          }
        ).causewayDemo.trainers.get('ash');
        return t && !t.isMoving ? t.x : undefined;
      },
      undefined,
      { timeout: 15_000 },
    );
    expect(await stoppedAt.jsonValue()).toBeGreaterThan(0);
    // …and the mover's own tab agrees.
    const own = await ash.evaluate(
      () =>
        (
          globalThis as unknown as {
            causewayDemo: { trainers: Map<string, { isMoving: boolean }> };
          }
        ).causewayDemo.trainers.get('ash')?.isMoving,
    );
    expect(own).toBe(false);
  });
});
