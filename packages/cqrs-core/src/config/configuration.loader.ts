import { z } from 'zod';
import { ConfigurationError } from './configuration.error';

/**
 * Reads one validated configuration object from the environment. Called once at start-up;
 * nothing else in an app reads process.env. Throws ConfigurationError naming every missing or
 * malformed setting, and never echoes a value (it may be a secret).
 */
export function loadConfiguration<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigurationError(
    result.error.issues.map((issue) => ({
      setting: issue.path.map(String).join('.') || '(root)',
      problem: isMissing(env, issue.path) ? 'is required' : issue.message,
    })),
  );
}

function isMissing(env: NodeJS.ProcessEnv, path: readonly PropertyKey[]): boolean {
  const [key] = path;
  return (
    path.length === 1 && typeof key === 'string' && (env[key] === undefined || env[key] === '')
  );
}
