import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SERVER_ENV, type ResolvedServer, type ServerName } from './server.catalog';

/** The repository root: the nearest ancestor holding infra/local/up. */
export function repositoryRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'infra', 'local', 'up'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`infra/local/up not found above ${from}`);
    dir = parent;
  }
}

/** Parses the KEY=value lines that infra/local/up writes to .infra/env. */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match?.[1] && match[2] !== undefined)
      values[match[1]] = match[2].replace(/^['"]|['"]$/g, '');
  }
  return values;
}

/**
 * Starts the missing servers with the project's own launcher (idempotent; it returns once each
 * server answered a real request) and reads their addresses from .infra/env.
 */
export function startLocalServers(names: readonly ServerName[]): ResolvedServer[] {
  const root = repositoryRoot();
  // The launcher prints its progress (first download, Go build) on our stderr.
  execFileSync(path.join(root, 'infra', 'local', 'up'), [...names], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
  });
  const env = parseEnvFile(readFileSync(path.join(root, '.infra', 'env'), 'utf8'));
  return names.map((name) => {
    const address = env[SERVER_ENV[name]];
    if (!address) throw new Error(`infra/local/up did not write ${SERVER_ENV[name]} to .infra/env`);
    return { name, address, source: 'local' as const };
  });
}
