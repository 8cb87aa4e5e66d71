import path from 'node:path';
import { type Browser } from 'playwright-core';
import {
  demoTrainerState,
  launchBrowser,
  openDemoPage,
  startServiceProcess,
  type ServiceProcess,
} from '@causeway/testkit';

// The demo page in a real browser (Debian's Chromium driven by playwright-core): two users in
// two browser contexts; arrow keys in one move a trainer that the other sees.
describe('demo page in a browser (embedded mode)', () => {
  let app: ServiceProcess;
  let browser: Browser;

  beforeAll(async () => {
    app = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: { JWT_SECRET: 'browser-test-secret-0123456789-abcdef', LOG_LEVEL: 'warn' },
    });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('shows a move made with the arrow keys in one tab in another user’s tab', async () => {
    const ash = await openDemoPage(browser, app.url, 'ash');
    const misty = await openDemoPage(browser, app.url, 'misty');

    await ash.locator('#world').focus();
    await ash.keyboard.down('ArrowRight');
    await demoTrainerState(misty, 'ash', true);
    await ash.keyboard.up('ArrowRight');
    const seen = await demoTrainerState(misty, 'ash', false);
    expect(seen.x).toBeGreaterThan(0);
    // …and the mover's own tab agrees on where it stopped.
    expect(await demoTrainerState(ash, 'ash', false)).toEqual(seen);
  });
});
