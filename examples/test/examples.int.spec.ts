import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import mongoose from 'mongoose';

const run = promisify(execFile);
const root = path.join(__dirname, '..');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs an example's main.ts as `pnpm run <example>` does: a real process, through tsx. */
async function example(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeout = 50_000,
): Promise<Outcome> {
  const main = path.join(root, name, 'main.ts');
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--conditions=@causeway/source', '--import', 'tsx', main, ...args],
      { cwd: root, env, timeout },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** A local port nothing listens on: taken from the system, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every key matching `pattern` (SCAN until the cursor comes back to 0). */
async function keysMatching(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** What each example must print, whatever the server: its outcome, not its timings. */
const expected: Record<string, string[]> = {
  '01-basic-event-sourcing': [
    '   v3 MoneyWithdrawn {"amount":30}',
    'ConcurrencyConflictError (expected v3, stream at v4); nothing written',
    '7. Withdraw 20 while a deposit of 15 raced it: done in 2 attempts',
    '8. Final state: balance 75 at version 6',
  ],
  '02-custom-collections': [
    'account-1 in billing: balance 150 at v3, latest snapshot at v2',
    'account-1 in savings: balance 1000 at v2, latest snapshot at v2',
  ],
  '03-snapshots': [
    '3. Load without snapshots: no snapshot, 1000 events replayed, v1000',
    '4. Load with snapshots:    snapshot at v960, 40 events replayed, v1000',
    '5. Schema version 1 -> 2, first load: no snapshot, 1000 events replayed',
    'snapshot at v1001, 0 events replayed, v1001',
    '7. Snapshots kept for account-busy: v1001 schema 2, v960 schema 1',
  ],
  '04-read-models': [
    '   account-ada: ada 70 (v3)',
    'after waitFor the query reads 200',
    'a restart resumes after it',
  ],
  '06-documents': [
    '2. CreateUser misty: stored at version 1',
    'refused — user-exists: user misty exists',
    '4. ChangeEmail: version 3, events UserUpdated + UserEmailChanged',
    'both kept, version 6; a write based on version 3 is refused: the document is at v6',
    'Event handlers saw: verify misty@gym.org, verify misty@league.org, welcome misty',
    '7. misty now: {"name":"Misty W.","email":"misty@gym.org"} at version 6',
    '8. Its stream: 6 events, UserCreated, UserUpdated, UserEmailChanged, ',
  ],
  '05-event-versioning': [
    '   FundsAdded v1 {"amount":12.5}',
    '   MoneyDeposited v3 {"amountCents":1250,"currency":"EUR"}',
    '   MoneyDeposited v3 {"amountCents":2000,"currency":"USD"}',
    '{"EUR":1750,"USD":2000}',
    'finds 3 events, old name included',
  ],
};

/** What example 02 shows it created, per server. */
const created: Record<'mongodb' | 'redis', string[]> = {
  mongodb: [
    '   billing_events_commits',
    '   billing_snapshots',
    '   savings_events_commits',
    '   savings_snapshots',
  ],
  redis: ['   billing:es:events', '   billing:snap:d:account-1', '   savings:es:events'],
};

describe('the examples as processes, on the real servers', () => {
  let mongo: mongoose.Connection;
  let redis: Redis;

  beforeAll(async () => {
    mongo = await mongoose.createConnection(process.env.MONGODB_URI!).asPromise();
    redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  afterAll(async () => {
    await mongo.close();
    redis.disconnect();
  });

  describe.each(['mongodb', 'redis'] as const)('--store %s', (store) => {
    it.each(Object.keys(expected))('%s prints its steps, exits 0, leaves nothing', async (name) => {
      const outcome = await example(name, ['--store', store]);

      expect(outcome.stderr).toBe('');
      expect(outcome.code).toBe(0);
      for (const line of expected[name]!) expect(outcome.stdout).toContain(line);
      if (name === '02-custom-collections')
        for (const line of created[store]) expect(outcome.stdout).toContain(line);

      if (store === 'mongodb') {
        const database = /MongoDB database (\S+?)\)/.exec(outcome.stdout)?.[1];
        expect(database).toMatch(/^examples_/);
        const { databases } = await mongo.db!.admin().listDatabases({ nameOnly: true });
        expect(databases.map((d) => d.name)).not.toContain(database);
      } else {
        const prefix = /Redis keys under (\S+?)\)/.exec(outcome.stdout)?.[1];
        expect(prefix).toMatch(/^examples:/);
        expect(await keysMatching(redis, `${prefix}*`)).toEqual([]);
      }
    });
  });

  it('picks Redis from REDIS_URL when no --store is given and MONGODB_URI is not set', async () => {
    const { MONGODB_URI: _unset, ...env } = process.env;
    const outcome = await example('01-basic-event-sourcing', [], env);

    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('1. Event store: redis (Redis keys under examples:');
  });

  it('refuses an unknown store before running anything, and exits 1', async () => {
    const outcome = await example('01-basic-event-sourcing', ['--store', 'postgres']);

    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toContain('--store must be one of memory, mongodb, redis, got postgres');
  });

  it.each([
    [
      'redis',
      'REDIS_URL',
      'redis://127.0.0.1:%d',
      'cannot connect to Redis at 127.0.0.1:%d (REDIS_URL)',
    ],
    ['mongodb', 'MONGODB_URI', 'mongodb://127.0.0.1:%d/examples', 'cannot connect to MongoDB at'],
  ])(
    'with --store %s on a server that is down, names it and exits 1 instead of hanging',
    async (store, variable, url, message) => {
      const port = await closedPort();
      const env = { ...process.env, [variable]: url.replace('%d', String(port)) };
      const outcome = await example('01-basic-event-sourcing', ['--store', store], env, 25_000);

      expect(outcome.stderr).toContain(message.replace('%d', String(port)));
      expect(outcome.code).toBe(1); // not killed by the timeout
    },
    30_000,
  );
});
