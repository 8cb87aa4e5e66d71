import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';

/** The Chromium the browser tests drive: CHROMIUM_PATH, else `chromium` on PATH (scripts/lib/browser.sh). */
export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'no Chromium found: export CHROMIUM_PATH or install Debian’s chromium (scripts/lib/browser.sh does)',
    );
  }
}

/** Headless Chromium through playwright-core, with the flags a container without a GPU needs. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
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
}

/** What the demo page exposes for tests: `window.causewayDemo`. */
export interface DemoPageView {
  causewayDemo: {
    userId: string;
    trainers: Map<string, { x: number; y: number; isMoving: boolean }>;
  };
}

/** Opens the demo page at `baseUrl` as `user` in a fresh browser context; resolves once its stream is live. */
export async function openDemoPage(browser: Browser, baseUrl: string, user: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${baseUrl}/?user=${encodeURIComponent(user)}`);
  await page.waitForSelector('body[data-stream="live"]', { timeout: 20_000 });
  return page;
}

/** Waits until the page shows `trainerId` moving (or stopped) and returns what it shows. */
export async function demoTrainerState(
  page: Page,
  trainerId: string,
  moving: boolean,
  timeoutMs = 15_000,
): Promise<{ x: number; y: number; isMoving: boolean }> {
  const handle = await page.waitForFunction(
    ([id, wanted]) => {
      const trainer = (globalThis as unknown as DemoPageView).causewayDemo.trainers.get(
        id as string,
      );
      return trainer && trainer.isMoving === wanted
        ? { x: trainer.x, y: trainer.y, isMoving: trainer.isMoving }
        : undefined;
    },
    [trainerId, moving] as const,
    { timeout: timeoutMs },
  );
  return (await handle.jsonValue()) as { x: number; y: number; isMoving: boolean };
}
