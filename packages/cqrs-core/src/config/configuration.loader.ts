import { z } from 'zod';
import { ConfigurationError } from './configuration.error';

/**
 * Reads one validated configuration object from the environment. Called once at start-up;
 * nothing else in an app reads process.env. An empty or blank variable counts as unset. Throws ConfigurationError naming every missing or
 * malformed setting, and never echoes a value (it may be a secret). A missing setting's problem is
 * "is required", or the schema's own message when it starts so ("is required (…)"); a check that
 * blames an unset setting (a cross-setting check: a default above another setting, an optional
 * setting another one needs) is named with its own message, once the setting is not required.
 */
export function loadConfiguration<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  // An empty or blank variable (`PORT=` in a compose file or an .env) means "not set": defaults
  // apply, and a required setting is reported missing.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => !blank(value)));
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  const issues = result.error.issues;
  // A required setting that is missing is told so; a check blaming it for being unset too would
  // only say it again.
  const required = new Set(
    issues.filter((issue) => isMissing(env, issue.path) && !isCheck(issue)).map(settingOf),
  );
  const problems = issues
    .filter((issue) => !(isCheck(issue) && required.has(settingOf(issue))))
    .map((issue) => ({
      setting: settingOf(issue),
      problem: required.has(settingOf(issue)) ? requiredProblem(issue.message) : issue.message,
    }));
  // A setting checked twice (its own rule and a cross-setting one) is named once per problem.
  const distinct = new Map(problems.map((p) => [`${p.setting}\u0000${p.problem}`, p]));
  throw new ConfigurationError([...distinct.values()]);
}

function settingOf(issue: z.core.$ZodIssue): string {
  return issue.path.map(String).join('.') || '(root)';
}

/**
 * Whether an issue is a check's (a refine, or a cross-setting check of the schema), which says in
 * its own words what is wrong, rather than the refusal of a value for its type or form: all an
 * unset required setting gets (`invalid_type`, or `invalid_value` of an enum).
 */
function isCheck(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom';
}

/**
 * A missing setting "is required"; a schema's own message saying so with more words (which apps
 * share it, where it comes from: `z.string({ message: 'is required (…)' })`) is kept as it is.
 */
function requiredProblem(message: string): string {
  return message.startsWith('is required') ? message : 'is required';
}

function isMissing(env: NodeJS.ProcessEnv, path: readonly PropertyKey[]): boolean {
  const [key] = path;
  return path.length === 1 && typeof key === 'string' && blank(env[key]);
}

function blank(value: string | undefined): boolean {
  return value === undefined || value.trim() === '';
}
