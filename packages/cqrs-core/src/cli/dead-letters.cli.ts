import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CUTOFF_RULE, isCutoff } from '../dead-letters/dead-letter-queue.rules';

/** How long a request may take, its answer read whole, unless told (--timeoutMs, the env). */
const DEFAULT_TIMEOUT_MS = 60_000;

/** The longest timer Node keeps (a longer one fires at once). */
const MAX_TIMEOUT_MS = 2_147_483_647;

const USAGE = `causeway-dead-letters <command> --url <app url> [filters] [--timeoutMs <ms>]
causeway-dead-letters -h | --help      prints this

commands:
  list     list dead letters             (filters, --id <id> ..., --limit <n>, --after <id>)
  stats    counts per topic and reason    (of the whole queue: takes no filter)
  replay   replay to the original topics (filters, --id <id> ..., or --all; --limit <n>)
  purge    delete dead letters           (filters, --id <id> ..., or --all; --limit <n>)

--url <app url> (or CAUSEWAY_ADMIN_URL): the base URL of any Causeway app, such as
http://127.0.0.1:3000 (no path, user, password, query or fragment).

filters: --topic --handler --type --reason --errorName (exactly, as stats counts by it)
--deadLetteredBefore <ISO-8601 date-time> (the letters dead-lettered before it, e.g.
2026-01-31T00:00:00Z). --id (repeatable) selects exactly those letters, also together with
filters. --limit (an integer from 1 to 10000) only bounds a selection: replay and purge need
a filter, --id or --all. A list answers 1 000 letters unless --limit says otherwise, and "next"
when there may be more: pass it as --after to get the next page.

--timeoutMs <ms> (or CAUSEWAY_ADMIN_TIMEOUT_MS) bounds each request, its answer read whole
(default ${DEFAULT_TIMEOUT_MS} ms): an app that does not answer in time is exit 1; a replay or
purge may go on in the app after that: see stats or list before running it again.

The admin token is read from CAUSEWAY_ADMIN_TOKEN (never pass secrets on the command line).

exit codes: 0 done; 1 the app answered an error, could not be reached or did not answer in
  time; 2 bad usage;
3 some selected letters were not replayed: their publish failed (listed in "failed"), they
  are malformed poison that can never be replayed (listed in "skips"), or the replay stopped
  after the broker refused letters in a row ("stopped"); they stay in the queue.
  Poison of a type or schema version the app did not know yet is replayed as its raw text;
4 replay or purge selected no letter, or another replay held every one selected (nothing changed).`;

/**
 * The flags the CLI takes, as its parser reads them. USAGE names each one (and every variable
 * of the environment the CLI reads): its test checks it against this.
 */
export const CLI_OPTIONS = {
  url: { type: 'string' },
  topic: { type: 'string' },
  handler: { type: 'string' },
  type: { type: 'string' },
  reason: { type: 'string' },
  errorName: { type: 'string' },
  deadLetteredBefore: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  timeoutMs: { type: 'string' },
  id: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const FILTERS = ['topic', 'handler', 'type', 'reason', 'errorName', 'deadLetteredBefore'] as const;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  fetch?: typeof fetch;
}

/** Runs the dead-letters CLI; returns the exit code (see USAGE). */
export async function deadLettersCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: CLI_OPTIONS,
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    io.out(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (!['list', 'stats', 'replay', 'purge'].includes(command)) {
    io.err(`unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  // A value without its flag (`--topic a b`, `list events.X`) was ignored: a purge of topic a
  // only, a list of everything.
  if (positionals.length > 1) {
    io.err(
      `unexpected argument ${JSON.stringify(positionals[1])}: give filters with their flag ` +
        `(e.g. --topic <topic>, --id <id> for each letter)\n`,
    );
    return 2;
  }
  // An empty value (an unset shell variable: `--topic "$TOPIC"`) was taken for no filter: a
  // list of the whole queue, a replay or purge of everything with --all. (--limit and
  // --timeoutMs say their own rules.)
  for (const [key, value] of Object.entries(values)) {
    if (key === 'limit' || key === 'timeoutMs') continue;
    if (value === '' || (Array.isArray(value) && value.includes(''))) {
      io.err(`--${key} must not be empty\n`);
      return 2;
    }
  }
  if (command === 'stats') {
    // Stats count the whole queue: a filter would be silently ignored, its figures misread.
    const given = [...FILTERS, 'id', 'limit', 'after', 'all'].filter(
      (key) => values[key as keyof typeof values] !== undefined,
    );
    if (given.length > 0) {
      io.err(
        `stats counts the whole queue and takes no filter: ` +
          `${given.map((key) => `--${key}`).join(', ')}; use list with the filter instead\n`,
      );
      return 2;
    }
  }
  // Ignored, `list --all` answered one page as if it were the whole queue.
  if (command === 'list' && values.all) {
    io.err(
      'list takes no --all: without a filter it lists every letter, --limit (default 1000) at ' +
        'a time; pass the "next" it answers as --after to get the next page\n',
    );
    return 2;
  }
  const url = values.url ?? io.env.CAUSEWAY_ADMIN_URL;
  if (!url) {
    io.err('--url (or CAUSEWAY_ADMIN_URL) is required: the base URL of any Causeway app\n');
    return 2;
  }
  const base = appUrl(url);
  if (typeof base !== 'object') {
    io.err(`${base}\n`);
    return 2;
  }
  // The app's rule (DeadLettersController): refused there, it was a 400 and exit 1, as if the
  // app had failed; it is bad usage, said before any request.
  const limit = values.limit;
  if (limit !== undefined && !(/^[1-9]\d{0,4}$/.test(limit) && Number(limit) <= 10_000)) {
    io.err(`--limit must be an integer from 1 to 10000, got ${JSON.stringify(limit)}\n`);
    return 2;
  }
  // The app's rule too: refused there, a cutoff that is no date-time was a 400 and exit 1.
  const before = values.deadLetteredBefore;
  if (before !== undefined && !isCutoff(before)) {
    io.err(`--deadLetteredBefore ${CUTOFF_RULE}, got ${JSON.stringify(before)}\n`);
    return 2;
  }
  // Without one, an app that took the request and never answered (hung, or a proxy in front of a
  // dead one) held the CLI, and the script running it, for ever.
  const timeout = timeoutOf(values.timeoutMs, io.env.CAUSEWAY_ADMIN_TIMEOUT_MS);
  if (typeof timeout === 'string') {
    io.err(`${timeout}\n`);
    return 2;
  }
  const token = io.env.CAUSEWAY_ADMIN_TOKEN;
  if (!token) {
    io.err('CAUSEWAY_ADMIN_TOKEN is not set\n');
    return 2;
  }
  const filters: Record<string, string> = {};
  for (const key of FILTERS) if (values[key]) filters[key] = values[key];
  const ids = values.id ?? [];
  const selects = Object.keys(filters).length > 0 || ids.length > 0;
  if ((command === 'replay' || command === 'purge') && !selects && !values.all) {
    io.err(
      `${command} needs a filter (--${FILTERS.join(' --')}), --id or ` +
        '--all; ' +
        '--limit alone selects nothing\n',
    );
    return 2;
  }
  if (values.limit) filters.limit = values.limit;
  if (values.after) filters.after = values.after;

  const endpoint = `${base.href.replace(/\/$/, '')}/admin/dead-letters`;
  const query = new URLSearchParams(filters);
  for (const id of ids) query.append('ids', id);
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  let target: string;
  let init: RequestInit = { headers };
  if (command === 'stats') target = `${endpoint}/stats`;
  else if (command === 'replay') {
    target = `${endpoint}/replay`;
    const body: Record<string, unknown> = {
      ...filters,
      ...(filters.limit && { limit: Number(filters.limit) }),
      ...(ids.length > 0 && { ids }),
      ...(values.all && { all: true }),
    };
    init = { method: 'POST', headers, body: JSON.stringify(body) };
  } else {
    if (command === 'purge') {
      if (values.all) query.set('all', 'true');
      init = { method: 'DELETE', headers };
    }
    target = query.size > 0 ? `${endpoint}?${query}` : endpoint;
  }

  let response: Response;
  let text: string;
  // Bounds the answer read whole: an app that sends its headers and then stalls is no answer.
  const signal = AbortSignal.timeout(timeout);
  try {
    response = await (io.fetch ?? fetch)(target, { ...init, signal });
    text = await response.text();
  } catch (error) {
    // The query may hold letter ids; the path says enough about where the request went.
    const path = target.split('?')[0];
    if (signal.aborted) {
      const goesOn =
        command === 'replay' || command === 'purge'
          ? `; the app may still carry the ${command} out: see stats or list before you run it again`
          : '';
      io.err(
        `no answer from ${path} within ${timeout} ms ` +
          `(--timeoutMs or CAUSEWAY_ADMIN_TIMEOUT_MS)${goesOn}\n`,
      );
      return 1;
    }
    io.err(`cannot reach ${path}: ${causeOf(error)}\n`);
    return 1;
  }
  if (response.status === 404) {
    // The endpoint never answers 404 itself: the request went to the wrong place. A bare
    // "404 Cannot GET …" left the operator to guess which.
    io.err(`404 from ${target.split('?')[0]}: no dead-letter endpoint there; ${notThere(base)}\n`);
    return 1;
  }
  if (!response.ok) {
    io.err(`${response.status} ${text}\n`);
    return 1;
  }
  let result: unknown;
  try {
    result = JSON.parse(text);
  } catch {
    io.err(`${response.status} but not JSON from ${target.split('?')[0]}: ${text.slice(0, 200)}\n`);
    return 1;
  }
  io.out(`${JSON.stringify(result, null, 2)}\n`);
  if (command === 'replay') return replayOutcome(result, io);
  if (command === 'purge' && (result as { purged?: unknown }).purged === 0) {
    io.err('no dead letter matched the selection; nothing was purged\n');
    return 4;
  }
  return 0;
}

/** Exit code of a replay answer (see USAGE), explaining on stderr what was not replayed. */
function replayOutcome(result: unknown, io: CliIo): number {
  const { replayed, skipped, skips, failed, failures, stopped } = result as {
    replayed?: unknown;
    skipped?: unknown;
    skips?: unknown;
    failed?: unknown;
    failures?: unknown;
    stopped?: unknown;
  };
  const listed = Array.isArray(failed) ? (failed as { id?: unknown; reason?: unknown }[]) : [];
  for (const letter of listed)
    io.err(`could not replay ${String(letter.id)}: ${String(letter.reason)}\n`);
  // `failures` counts them all (apps of releases before it list every one in `failed`).
  const refused = typeof failures === 'number' ? failures : listed.length;
  if (refused > listed.length)
    io.err(`and ${refused - listed.length} more letter(s) could not be replayed\n`);
  if (typeof stopped === 'string') io.err(`the replay stopped early: ${stopped}\n`);
  // `skips` is absent from apps of releases before it: the count alone then.
  const unreplayable = Array.isArray(skips) ? (skips as { id?: unknown; reason?: unknown }[]) : [];
  for (const letter of unreplayable)
    io.err(`cannot replay ${String(letter.id)}: ${String(letter.reason)}\n`);
  const poison = typeof skipped === 'number' ? skipped : 0;
  if (poison > 0)
    io.err(
      `${poison} selected letter(s) are malformed poison and can never be replayed; ` +
        'inspect them with list and remove them with purge --id\n',
    );
  if (refused > 0 || poison > 0 || typeof stopped === 'string') return 3;
  if (replayed === 0) {
    // Or every one matched is being replayed by someone else (their claim): not replayed here.
    io.err(
      'nothing was replayed: no dead letter matched the selection, or another replay holds them\n',
    );
    return 4;
  }
  return 0;
}

/** The request timeout in ms (the flag's, else the variable's, else the default), or why not. */
function timeoutOf(flag: string | undefined, env: string | undefined): number | string {
  const [source, value] =
    flag !== undefined ? ['--timeoutMs', flag] : ['CAUSEWAY_ADMIN_TIMEOUT_MS', env];
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  if (/^[1-9]\d{0,9}$/.test(value) && Number(value) <= MAX_TIMEOUT_MS) return Number(value);
  return `${source} must be an integer from 1 to ${MAX_TIMEOUT_MS} (milliseconds), got ${JSON.stringify(value)}`;
}

/** The app's base URL, or why it is not one (without echoing credentials). */
function appUrl(text: string): URL | string {
  const shown = JSON.stringify(text.replace(/\/\/[^/\s@]*@/g, '//[Redacted]@'));
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `--url must be an http(s) URL such as http://127.0.0.1:3000, got ${shown}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `--url must be an http(s) URL such as http://127.0.0.1:3000, got ${shown}`;
  if (url.username || url.password)
    return `--url must be an http(s) URL without user or password (the token comes from CAUSEWAY_ADMIN_TOKEN), got ${shown}`;
  if (url.search || url.hash)
    return `--url must be the app's base URL, without query or fragment, got ${shown}`;
  return url;
}

/** The likely reason the dead-letter endpoint is not under `base` (it answered 404). */
function notThere(base: URL): string {
  if (base.pathname !== '/')
    return `--url has a path (${base.pathname.replace(/\/$/, '')}): give the app's base URL, such as ${base.origin}`;
  return (
    '--url may name another server or port, or an app without the dead-letter admin ' +
    'endpoint (DeadLettersAdminModule)'
  );
}

/** The innermost cause of a failed fetch ("connect ECONNREFUSED 127.0.0.1:3999"), one line. */
function causeOf(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5; depth++) {
    const next = (current as { cause?: unknown } | null)?.cause;
    const inner =
      next ?? ((current as { errors?: unknown[] } | null)?.errors?.[0] as unknown | undefined);
    if (inner === undefined || inner === null) break;
    current = inner;
  }
  if (!(current instanceof Error)) return String(current).split('\n')[0]!;
  const code = (current as { code?: unknown }).code;
  const message = current.message || current.name;
  const line = typeof code === 'string' && !message.includes(code) ? `${code} ${message}` : message;
  return line.split('\n')[0]!;
}
