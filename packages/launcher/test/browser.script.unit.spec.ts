import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './clone.fixture';

// scripts/lib/browser.sh's ensure_browser (npm test): CHROMIUM_PATH picks the browser the tests
// drive. One that names no executable (a typo, a browser since removed) was ignored without a
// word: the tests ran another Chromium, installed with apt when none was on PATH.
describe('ensure_browser (scripts/lib/browser.sh)', () => {
  it('refuses a CHROMIUM_PATH that is no executable, naming it, and installs nothing', () => {
    const missing = path.join(repoRoot, '.infra', 'no-such-chromium');
    const run = spawnSync(
      'bash',
      [
        '-c',
        `set -euo pipefail
         source "$ROOT/scripts/lib/browser.sh"
         ensure_browser
         echo "went on with $CHROMIUM_PATH"`,
      ],
      {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ROOT: repoRoot,
          CHROMIUM_PATH: missing,
        },
        timeout: 60_000,
      },
    );

    expect(run.stdout).not.toContain('went on');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`CHROMIUM_PATH=${missing} is not an executable`);
  }, 90_000);
});
