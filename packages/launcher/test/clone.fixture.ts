import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

/** The repository these tests run in. */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');

/**
 * A clone of the repository's infra/local scripts in a temporary directory, with the workspace's
 * node_modules (the readiness probes load their clients from it): the servers its scripts start
 * have a .infra/ of their own, never the servers of the repository the tests run in.
 */
export function scriptsClone(prefix: string): {
  dir: string;
  remove: (env: NodeJS.ProcessEnv) => void;
} {
  const dir = mkdtempSync(path.join(tmpdir(), `causeway-${prefix}-`));
  cpSync(path.join(repoRoot, 'infra', 'local'), path.join(dir, 'infra', 'local'), {
    recursive: true,
  });
  cpSync(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  return {
    dir,
    remove: (env) => {
      spawnSync('infra/local/down', [], { cwd: dir, env, stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Live processes whose command line names `needle` (a clone's .infra/, say). */
export function processesNaming(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (cmdline.includes(needle) && state !== 'Z' && state !== 'X') found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
