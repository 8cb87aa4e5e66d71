import { parseArgs } from 'node:util';

const USAGE = `causeway-dead-letters <command> --url <app url> [filters]

commands:
  list     list dead letters        (filters: --topic --handler --type --reason --limit)
  stats    counts per topic and reason
  replay   replay to the original topics (filters, or --id <id> ..., or --all)
  purge    delete dead letters      (filters, or --id <id> ..., or --all)

The admin token is read from CAUSEWAY_ADMIN_TOKEN (never pass secrets on the command line).`;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  fetch?: typeof fetch;
}

/** Runs the dead-letters CLI; returns the exit code. */
export async function deadLettersCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        topic: { type: 'string' },
        handler: { type: 'string' },
        type: { type: 'string' },
        reason: { type: 'string' },
        limit: { type: 'string' },
        id: { type: 'string', multiple: true },
        all: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
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
  const url = values.url ?? io.env.CAUSEWAY_ADMIN_URL;
  if (!url) {
    io.err('--url (or CAUSEWAY_ADMIN_URL) is required: the base URL of any Causeway app\n');
    return 2;
  }
  const token = io.env.CAUSEWAY_ADMIN_TOKEN;
  if (!token) {
    io.err('CAUSEWAY_ADMIN_TOKEN is not set\n');
    return 2;
  }
  const filters: Record<string, string> = {};
  for (const key of ['topic', 'handler', 'type', 'reason', 'limit'] as const)
    if (values[key]) filters[key] = values[key];
  const base = `${url.replace(/\/$/, '')}/admin/dead-letters`;
  const query = new URLSearchParams(filters);
  let response: Response;
  const http = io.fetch ?? fetch;
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  if (command === 'list') response = await http(`${base}?${query}`, { headers });
  else if (command === 'stats') response = await http(`${base}/stats`, { headers });
  else if (command === 'replay') {
    const body: Record<string, unknown> = {
      ...filters,
      ...(filters.limit && { limit: Number(filters.limit) }),
    };
    if (values.id) body.ids = values.id;
    if (!values.all && Object.keys(body).length === 0) {
      io.err('replay needs a filter, --id or --all\n');
      return 2;
    }
    response = await http(`${base}/replay`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
  } else {
    if (values.all) query.set('all', 'true');
    response = await http(`${base}?${query}`, { method: 'DELETE', headers });
  }
  const text = await response.text();
  if (!response.ok) {
    io.err(`${response.status} ${text}\n`);
    return 1;
  }
  io.out(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  return 0;
}
