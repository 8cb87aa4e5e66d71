import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');

// scripts/lib/servers.sh's install_dependencies runs first in `npm test`, `npm start`,
// `npm run start:distributed` and `npm run bench`. A failed install must stop the script: going
// on built and tested whatever an earlier install had left in node_modules.
describe('install_dependencies (scripts/lib/servers.sh)', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'causeway-install-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fails, and the script stops, when pnpm install fails over an earlier node_modules', () => {
    // A package.json the lockfile does not match (a dependency added without installing):
    // `pnpm install --frozen-lockfile` refuses it, offline. node_modules is an earlier install's.
    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'clone', private: true, dependencies: { 'left-pad': '1.3.0' } }),
    );
    writeFileSync(
      path.join(dir, 'pnpm-lock.yaml'),
      "lockfileVersion: '9.0'\n\nimporters:\n\n  .: {}\n",
    );
    mkdirSync(path.join(dir, 'node_modules', '.pnpm'), { recursive: true });

    const run = spawnSync(
      'bash',
      [
        '-c',
        `set -euo pipefail
         source "$ROOT/scripts/lib/pnpm.sh"
         source "$ROOT/scripts/lib/servers.sh"
         ensure_pnpm
         install_dependencies
         echo "went on after the install"`,
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ROOT: root, CI: 'true' },
        timeout: 120_000,
      },
    );

    expect(run.stdout).not.toContain('went on after the install');
    expect(run.status).not.toBe(0);
    expect(run.stdout + run.stderr).toMatch(/pnpm install failed/);
  }, 150_000);
});
