import 'reflect-metadata';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import { SerializerRegistry } from '../messages/serializer.registry';
import { DeadLettersAdminModule } from '../nest/dead-letters-admin.module';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { CLI_OPTIONS, deadLettersCli } from './dead-letters.cli';

const TOKEN = 'cli-admin-token-0123456789abcdef';

function moved(x: number, topic: string, type = 'Moved') {
  return {
    envelope: testEnvelope(type, { x }),
    originalTopic: topic,
    position: `${x}-0`,
    group: 'g',
    handler: 'h',
    reason: 'boom',
    errorName: 'Error',
    attempts: 3,
    deadLetteredAt: new Date().toISOString(),
  };
}

describe('causeway-dead-letters CLI', () => {
  let app: INestApplication;
  let url: string;
  const queue = new InMemoryDeadLetterQueue();

  beforeAll(async () => {
    const broker = new InMemoryBroker({
      serializer: new SerializerRegistry().register('Moved', z.object({ x: z.number() })),
    });
    const moduleRef = await Test.createTestingModule({
      imports: [DeadLettersAdminModule.forRoot({ token: TOKEN, queue, publisher: broker })],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  beforeEach(async () => {
    await queue.purge({});
    for (const x of [1, 2]) await queue.add(moved(x, `events.T${x}`));
  });
  afterAll(() => app.close());

  async function run(argv: string[], env: NodeJS.ProcessEnv = { CAUSEWAY_ADMIN_TOKEN: TOKEN }) {
    let out = '';
    let err = '';
    const code = await deadLettersCli(argv, {
      env,
      out: (t) => (out += t),
      err: (t) => (err += t),
    });
    return { code, out, err };
  }

  /**
   * Runs the CLI with a fetch that counts the requests it would make and fails each: for the
   * bad usage that must be refused before any request reaches the app.
   */
  async function runOffline(argv: string[]) {
    let requests = 0;
    let out = '';
    let err = '';
    const code = await deadLettersCli(argv, {
      env: { CAUSEWAY_ADMIN_TOKEN: TOKEN },
      out: (t) => (out += t),
      err: (t) => (err += t),
      fetch: async () => {
        requests++;
        throw new Error('no request expected');
      },
    });
    return { code, out, err, requests };
  }

  it('names in its usage every flag its parser takes and every environment variable it reads', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    const shown = (flag: string) =>
      new RegExp(`(^|[\\s(,])${flag.replace(/[-]/g, '\\-')}(?![\\w-])`, 'm').test(help.out);
    // From the parser's own definitions: a flag added there and not here fails this test.
    const flags = Object.entries(CLI_OPTIONS).flatMap(([name, option]) => [
      `--${name}`,
      ...('short' in option ? [`-${option.short}`] : []),
    ]);
    expect(flags.filter((flag) => !shown(flag))).toEqual([]);
    // The variables it reads, as it runs each command with the URL from the environment.
    const read = new Set<string>();
    const env = new Proxy<NodeJS.ProcessEnv>(
      { CAUSEWAY_ADMIN_TOKEN: TOKEN, CAUSEWAY_ADMIN_URL: url },
      {
        get: (target, key) => {
          if (typeof key === 'string') read.add(key);
          return target[key as string];
        },
      },
    );
    for (const argv of [['stats'], ['list'], ['replay', '--id', 'none'], ['purge', '--id', 'none']])
      expect([argv, (await run(argv, env)).code]).toEqual([argv, argv.length > 1 ? 4 : 0]);
    expect([...read]).toEqual(
      expect.arrayContaining([
        'CAUSEWAY_ADMIN_TOKEN',
        'CAUSEWAY_ADMIN_URL',
        'CAUSEWAY_ADMIN_TIMEOUT_MS',
      ]),
    );
    expect([...read].filter((name) => !shown(name))).toEqual([]);
  });

  it('is summed up in the READMEs and the operations guide with the variables it reads and its timeout', () => {
    // The root README's summary left out --timeoutMs: a reader of it alone expected the CLI to
    // wait for ever on an app that does not answer, and did not know how to give it longer.
    const root = join(__dirname, '../../../..');
    const missing = ['README.md', 'packages/cqrs-core/README.md', 'docs/operations.md'].flatMap(
      (file) => {
        const blocks = readFileSync(join(root, file), 'utf8').split(/\n\s*\n/);
        const first = blocks.findIndex((block) => block.includes('causeway-dead-letters'));
        // Where it is first named: that paragraph, and its example and explanation after it.
        const summary = blocks.slice(first, first + 3).join('\n\n');
        return [
          'CAUSEWAY_ADMIN_TOKEN',
          'CAUSEWAY_ADMIN_URL',
          '--timeoutMs',
          'CAUSEWAY_ADMIN_TIMEOUT_MS',
        ].flatMap((name) => (first >= 0 && summary.includes(name) ? [] : [`${file}: ${name}`]));
      },
    );
    expect(missing).toEqual([]);
  });

  it('shows stats and lists with a filter', async () => {
    const stats = await run(['stats', '--url', url]);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.out)).toMatchObject({
      total: 2,
      byTopic: { 'events.T1': 1, 'events.T2': 1 },
    });
    const list = await run(['list', '--url', url, '--topic', 'events.T2']);
    expect(
      JSON.parse(list.out).letters.map((l: { originalTopic: string }) => l.originalTopic),
    ).toEqual(['events.T2']);
    // By the error name stats counts by: both letters are `Error`, none `TypeError`.
    const named = await run(['list', '--url', url, '--errorName', 'Error']);
    expect(JSON.parse(named.out).count).toBe(2);
    const none = await run(['list', '--url', url, '--errorName', 'TypeError']);
    expect(JSON.parse(none.out).count).toBe(0);
  });

  it('refuses filter flags with stats (exit 2, naming them) instead of printing whole-queue counts', async () => {
    for (const [flags, named] of [
      [['--topic', 'events.T1'], '--topic'],
      [['--errorName', 'Error', '--handler', 'h'], '--handler, --errorName'],
      [['--id', 'events.T1|1-0'], '--id'],
      [['--limit', '1'], '--limit'],
      [['--after', 'events.T1|1-0'], '--after'],
      [['--all'], '--all'],
    ] as const) {
      const refused = await run(['stats', '--url', url, ...flags]);
      expect(refused.code).toBe(2);
      expect(refused.out).toBe('');
      expect(refused.err).toBe(
        `stats counts the whole queue and takes no filter: ${named}; use list with the filter instead\n`,
      );
    }
    expect((await run(['stats', '--url', url])).code).toBe(0);
  });

  it('purges by topic and refuses unfiltered replays', async () => {
    expect((await run(['replay', '--url', url])).code).toBe(2);
    const purge = await run(['purge', '--url', url, '--topic', 'events.T1']);
    expect(JSON.parse(purge.out)).toEqual({ purged: 1 });
  });

  it('purges and replays the letters dead-lettered before a date-time (an offset kept as written)', async () => {
    await queue.add({ ...moved(3, 'events.T1'), deadLetteredAt: '2026-01-01T00:00:00.000Z' });
    await queue.add({ ...moved(4, 'events.T2'), deadLetteredAt: '2026-01-01T02:00:00.000Z' });
    // Bad usage (exit 2, as every other), said before any request: not "the app failed" (1).
    const bad = await run(['purge', '--url', url, '--deadLetteredBefore', 'last week']);
    expect(bad).toEqual({
      code: 2,
      out: '',
      err:
        '--deadLetteredBefore must be an ISO-8601 date-time (e.g. 2026-01-31T12:00:00.000Z), ' +
        'got "last week"\n',
    });
    const unreachable = 'http://127.0.0.1:1';
    expect(
      (await run(['list', '--url', unreachable, '--deadLetteredBefore', '2026-01-31T00:00:00']))
        .code,
    ).toBe(2);
    expect((await queue.stats()).total).toBe(4);
    const cutoff = ['--deadLetteredBefore', '2026-01-01T02:00:00+01:00'];
    const replay = await run(['replay', '--url', url, ...cutoff]);
    expect(replay).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(replay.out)).toMatchObject({ replayed: 1 });
    await queue.add({ ...moved(5, 'events.T1'), deadLetteredAt: '2025-12-31T00:00:00.000Z' });
    const purge = await run(['purge', '--url', url, ...cutoff]);
    expect(JSON.parse(purge.out)).toEqual({ purged: 1 });
    expect((await queue.list()).map((letter) => letter.envelope?.data)).toEqual([
      { x: 1 },
      { x: 2 },
      { x: 4 },
    ]);
  });

  it('fails clearly without a token, with a wrong token, or with an unknown command', async () => {
    expect(await run(['stats', '--url', url], {})).toMatchObject({
      code: 2,
      err: 'CAUSEWAY_ADMIN_TOKEN is not set\n',
    });
    const wrong = await run(['stats', '--url', url], {
      CAUSEWAY_ADMIN_TOKEN: 'wrong-token-wrong-token',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^401 /);
    expect((await run(['explode', '--url', url])).code).toBe(2);
  });

  async function idsOf(topic: string) {
    return (await queue.list({ originalTopic: topic })).map((letter) => letter.id);
  }

  it('purges exactly the letters named by --id, with or without a filter', async () => {
    for (const x of [3, 4, 5]) await queue.add(moved(x, 'events.T'));
    const [first, second, third] = await idsOf('events.T');
    const withTopic = await run(['purge', '--url', url, '--id', first!, '--topic', 'events.T']);
    expect(withTopic).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(withTopic.out)).toEqual({ purged: 1 });
    expect(await idsOf('events.T')).toEqual([second, third]);
    const alone = await run(['purge', '--url', url, '--id', second!]);
    expect(JSON.parse(alone.out)).toEqual({ purged: 1 });
    expect(await idsOf('events.T')).toEqual([third]);
    expect((await queue.stats()).total).toBe(3);
  });

  it('lists page by page: --limit, then "next" as --after', async () => {
    for (const x of [3, 4, 5]) await queue.add(moved(x, 'events.Paged'));
    const ids = await idsOf('events.Paged');
    const first = JSON.parse(
      (await run(['list', '--url', url, '--topic', 'events.Paged', '--limit', '2'])).out,
    );
    expect(first.letters.map((l: { id: string }) => l.id)).toEqual(ids.slice(0, 2));
    expect(first.next).toBe(ids[1]);
    const second = await run([
      'list',
      '--url',
      url,
      '--topic',
      'events.Paged',
      '--limit',
      '2',
      '--after',
      first.next,
    ]);
    expect(JSON.parse(second.out)).toMatchObject({ count: 1, letters: [{ id: ids[2] }] });
    expect(JSON.parse(second.out).next).toBeUndefined();
  });

  it('lists and replays exactly the letters named by --id', async () => {
    const [one] = await idsOf('events.T1');
    const [two] = await idsOf('events.T2');
    const list = await run(['list', '--url', url, '--id', two!]);
    expect(JSON.parse(list.out).letters.map((l: { id: string }) => l.id)).toEqual([two]);
    const both = await run(['list', '--url', url, '--id', one!, '--id', two!]);
    expect(JSON.parse(both.out).count).toBe(2);
    const replay = await run(['replay', '--url', url, '--id', two!]);
    expect(JSON.parse(replay.out)).toEqual({
      replayed: 1,
      skipped: 0,
      skips: [],
      failed: [],
      failures: 0,
    });
    expect((await queue.list()).map((l) => l.id)).toEqual([one]);
  });

  it('refuses a --limit that is not an integer from 1 to 10000 as bad usage (exit 2), before any request', async () => {
    for (const limit of ['0', 'abc', '10001', '1.5', '-1', '']) {
      for (const command of ['list', 'replay', 'purge']) {
        const all = command === 'list' ? [] : ['--all'];
        const { code, err, requests } = await runOffline([
          command,
          '--url',
          url,
          ...all,
          `--limit=${limit}`,
        ]);
        expect({ limit, command, code, requests }).toEqual({
          limit,
          command,
          code: 2,
          requests: 0,
        });
        expect(err).toContain(`--limit must be an integer from 1 to 10000, got "${limit}"`);
      }
    }
    expect((await queue.stats()).total).toBe(2);
    expect((await run(['list', '--url', url, '--limit', '10000'])).code).toBe(0);
  });

  it('refuses an empty option value or a stray argument as bad usage (exit 2), naming it, before any request', async () => {
    const cases: [string[], string][] = [
      // An empty value (an unset shell variable) was dropped: a list of the whole queue, or a
      // replay or purge of everything with --all.
      [['list', '--topic', ''], '--topic must not be empty'],
      [['purge', '--all', '--handler='], '--handler must not be empty'],
      [['replay', '--type', 'Moved', '--reason', ''], '--reason must not be empty'],
      [['list', '--after', ''], '--after must not be empty'],
      [['purge', '--id', 'dl-1', '--id', ''], '--id must not be empty'],
      // A filter value without its flag was ignored: the purge took every letter of events.T1.
      [['purge', '--topic', 'events.T1', 'events.T2'], 'unexpected argument "events.T2"'],
      [['list', 'events.T1'], 'unexpected argument "events.T1"'],
    ];
    for (const [argv, message] of cases) {
      const { code, err, requests } = await runOffline([...argv, '--url', url]);
      expect({ argv, code, requests }).toEqual({ argv, code: 2, requests: 0 });
      expect(err).toContain(message);
    }
    expect((await queue.stats()).total).toBe(2);
  });

  it('refuses --all with list (exit 2, before any request) instead of ignoring it', async () => {
    // It was ignored: `list --all` answered one page (1 000 letters) as if it were all of them.
    const { code, err, requests } = await runOffline(['list', '--url', url, '--all']);
    expect({ code, requests }).toEqual({ code: 2, requests: 0 });
    expect(err).toMatch(/list takes no --all/);
    expect(err).toMatch(/--after/);
  });

  it('replays or purges everything only with --all; a limit is not a filter', async () => {
    for (const command of ['replay', 'purge']) {
      for (const argv of [[], ['--limit', '1']]) {
        const refused = await run([command, '--url', url, ...argv]);
        expect(refused.code).toBe(2);
        expect(refused.err).toMatch(/--all/);
      }
    }
    expect((await queue.stats()).total).toBe(2);
    const all = await run(['replay', '--url', url, '--all']);
    expect(JSON.parse(all.out)).toEqual({
      replayed: 2,
      skipped: 0,
      skips: [],
      failed: [],
      failures: 0,
    });
    expect((await queue.stats()).total).toBe(0);
  });

  it('prints the letters a replay could not publish and exits 3', async () => {
    await queue.add(moved(3, 'events.T1', 'NoSuchType'));
    await queue.add(moved(4, 'events.T1'));
    const [, bad] = await idsOf('events.T1');
    const replay = await run(['replay', '--url', url, '--topic', 'events.T1']);
    expect(replay.code).toBe(3);
    expect(JSON.parse(replay.out)).toEqual({
      replayed: 2,
      skipped: 0,
      skips: [],
      failed: [{ id: bad, reason: expect.stringContaining('NoSuchType') }],
      failures: 1,
    });
    expect(replay.err).toContain(`could not replay ${bad}: `);
    expect(await idsOf('events.T1')).toEqual([bad]);
  });

  it('exits 3 and says why when a replay meets poison letters, which stay', async () => {
    const { envelope: _undecodable, ...letter } = moved(5, 'events.T1');
    const poison = await queue.add({
      ...letter,
      raw: 'not json',
      handler: '(decoder)',
      reason: 'bad JSON',
    });
    const replay = await run(['replay', '--url', url, '--topic', 'events.T1']);
    expect(replay.code).toBe(3);
    expect(JSON.parse(replay.out)).toEqual({
      replayed: 1,
      skipped: 1,
      skips: [{ id: poison, reason: expect.stringContaining('malformed') }],
      failed: [],
      failures: 0,
    });
    expect(replay.err).toContain(`cannot replay ${poison}: malformed`);
    expect(replay.err).toContain('1 selected letter(s) are malformed poison');
    expect(await idsOf('events.T1')).toHaveLength(1);
  });

  it('exits 4 when a replay or purge selects no letter, and changes nothing', async () => {
    const replay = await run(['replay', '--url', url, '--id', 'no-such-letter']);
    expect(replay.code).toBe(4);
    expect(replay.err).toBe(
      'nothing was replayed: no dead letter matched the selection, or another replay holds them\n',
    );
    const purge = await run(['purge', '--url', url, '--topic', 'events.Nowhere']);
    expect(purge.code).toBe(4);
    expect(purge.err).toBe('no dead letter matched the selection; nothing was purged\n');
    expect((await queue.stats()).total).toBe(2);
  });

  it('says on a 404 which URL it asked and why it may not be there, rather than a bare "404"', async () => {
    // An app without the admin module (the operator's URL names the wrong app or port).
    const moduleRef = await Test.createTestingModule({}).compile();
    const bare = moduleRef.createNestApplication({ logger: false });
    await bare.listen(0, '127.0.0.1');
    try {
      const bareUrl = await bare.getUrl();
      const missing = await run(['stats', '--url', bareUrl]);
      expect(missing.code).toBe(1);
      expect(missing.out).toBe('');
      expect(missing.err).toBe(
        `404 from ${bareUrl}/admin/dead-letters/stats: no dead-letter endpoint there; --url may ` +
          'name another server or port, or an app without the dead-letter admin endpoint ' +
          '(DeadLettersAdminModule)\n',
      );
    } finally {
      await bare.close();
    }
    // The endpoint's own URL given as the app's: the path is said to be the likely mistake.
    const pasted = await run([
      'list',
      '--url',
      `${url}/admin/dead-letters`,
      '--topic',
      'events.T1',
    ]);
    expect(pasted.code).toBe(1);
    expect(pasted.err).toBe(
      `404 from ${url}/admin/dead-letters/admin/dead-letters: no dead-letter endpoint there; ` +
        `--url has a path (/admin/dead-letters): give the app's base URL, such as ${url}\n`,
    );
  });

  describe('against an app that never answers', () => {
    // A real HTTP server that takes each request and answers nothing (a hung app, a proxy in
    // front of a dead one), or sends its headers and then nothing more.
    const requests: string[] = [];
    const held: ServerResponse[] = [];
    const hung = createHttpServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      held.push(response);
      if (request.url?.includes('/stats')) {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.write('{"total": ');
      }
    });
    let hungUrl: string;
    beforeAll(async () => {
      await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
      hungUrl = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    });
    beforeEach(() => (requests.length = 0));
    afterAll(async () => {
      hung.closeAllConnections();
      await new Promise((resolve) => hung.close(resolve));
    });

    it('gives up after --timeoutMs, naming the URL and the timeout (exit 1)', async () => {
      const listed = await run([
        'list',
        '--url',
        hungUrl,
        '--topic',
        'events.T1',
        '--timeoutMs',
        '200',
      ]);
      expect(listed).toEqual({
        code: 1,
        out: '',
        err: `no answer from ${hungUrl}/admin/dead-letters within 200 ms (--timeoutMs or CAUSEWAY_ADMIN_TIMEOUT_MS)\n`,
      });
      // An answer that began but never ended is no answer either.
      const stats = await run(['stats', '--url', hungUrl, '--timeoutMs', '200']);
      expect(stats.code).toBe(1);
      expect(stats.err).toBe(
        `no answer from ${hungUrl}/admin/dead-letters/stats within 200 ms (--timeoutMs or CAUSEWAY_ADMIN_TIMEOUT_MS)\n`,
      );
      expect(requests).toEqual([
        'GET /admin/dead-letters?topic=events.T1',
        'GET /admin/dead-letters/stats',
      ]);
    });

    it('takes the timeout from CAUSEWAY_ADMIN_TIMEOUT_MS, and says a replay or purge may go on', async () => {
      for (const command of ['replay', 'purge']) {
        const given = await run([command, '--url', hungUrl, '--all'], {
          CAUSEWAY_ADMIN_TOKEN: TOKEN,
          CAUSEWAY_ADMIN_TIMEOUT_MS: '200',
        });
        expect({ command, code: given.code }).toEqual({ command, code: 1 });
        expect(given.err).toMatch(
          new RegExp(
            `^no answer from ${hungUrl}/admin/dead-letters(/replay)? within 200 ms ` +
              `\\(--timeoutMs or CAUSEWAY_ADMIN_TIMEOUT_MS\\); the app may still carry the ${command} ` +
              'out: see stats or list before you run it again\n$',
          ),
        );
      }
      expect(requests).toEqual([
        'POST /admin/dead-letters/replay',
        'DELETE /admin/dead-letters?all=true',
      ]);
    });
  });

  it('refuses a timeout that is not an integer from 1 to 2147483647 ms (exit 2), before any request', async () => {
    for (const value of ['0', 'abc', '1.5', '2147483648', '']) {
      const flag = await runOffline(['stats', '--url', url, `--timeoutMs=${value}`]);
      expect({ value, code: flag.code, requests: flag.requests }).toEqual({
        value,
        code: 2,
        requests: 0,
      });
      expect(flag.err).toBe(
        `--timeoutMs must be an integer from 1 to 2147483647 (milliseconds), got ${JSON.stringify(value)}\n`,
      );
      const env = await run(['stats', '--url', 'http://127.0.0.1:1'], {
        CAUSEWAY_ADMIN_TOKEN: TOKEN,
        CAUSEWAY_ADMIN_TIMEOUT_MS: value,
      });
      expect({ value, code: env.code }).toEqual({ value, code: 2 });
      expect(env.err).toBe(
        `CAUSEWAY_ADMIN_TIMEOUT_MS must be an integer from 1 to 2147483647 (milliseconds), got ${JSON.stringify(value)}\n`,
      );
    }
    expect((await run(['stats', '--url', url, '--timeoutMs', '2147483647'])).code).toBe(0);
  });

  it('names the URL and the cause in one line when the app cannot be reached', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const refused = await run(['stats', '--url', `http://127.0.0.1:${port}`]);
    expect(refused.code).toBe(1);
    expect(refused.out).toBe('');
    expect(refused.err).toMatch(
      new RegExp(
        `^cannot reach http://127\\.0\\.0\\.1:${port}/admin/dead-letters/stats: .*ECONNREFUSED.*\\n$`,
      ),
    );
    for (const bad of ['notaurl', 'ftp://host/x', 'http://admin:hunter2@127.0.0.1:1']) {
      const invalid = await run(['stats', '--url', bad]);
      expect(invalid.code).toBe(2);
      expect(invalid.err.split('\n')).toHaveLength(2);
      expect(invalid.err).toMatch(/^--url must be/);
      expect(invalid.err).not.toContain('hunter2');
    }
  });
});
