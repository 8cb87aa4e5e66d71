import { spawn } from 'node:child_process';
import path from 'node:path';
import { testNamespace, within } from '@causeway/testkit';
import Redis from 'ioredis';

// A process that closes its router and its Redis connection, but not the Redis Streams
// subscriber and publisher it built on that connection (which duplicate it for their blocking
// reads), must still exit: closing the connection ends its duplicates. Before, it hung for
// ever on their sockets — a service that never stops, a jest run that never ends.
const ns = testNamespace('closing');

afterAll(async () => {
  const redis = new Redis(ns.redisUrl);
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

async function runService(env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'closing-service.cjs')], {
    env: { ...process.env, REDIS_URL: ns.redisUrl, KEY_PREFIX: ns.keyPrefix, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let closedAt = 0;
  child.stdout!.on('data', () => {
    if (!closedAt && stdout.includes('CLOSED')) closedAt = Date.now();
  });
  const exit = await new Promise<number | null | 'hung'>((resolve) => {
    const timer = setTimeout(() => resolve('hung'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  if (exit === 'hung') child.kill('SIGKILL');
  return { exit, stderr, stdout, closedAt };
}

it('exits once it closed its router and its Redis connection, subscriber left open', async () => {
  const { exit, stderr, stdout, closedAt } = await runService();
  expect({ exit, stderr }).toEqual({ exit: 0, stderr: '' });
  expect(stdout).toBe('CLOSED\n');
  // Nothing waits for a timeout of its own: the blocked reads end with the connection.
  expect(Date.now() - closedAt).toBeLessThan(5_000);
}, 40_000);

// The router left running too: its subscriptions' reads fail on the closed connection. Before,
// their heartbeat and read-retry timers held the process for ever (the reads retried every
// second on a connection that would never come back).
it('exits once it closed its Redis connection, router and subscriber left open', async () => {
  const { exit, stdout, closedAt } = await runService({ FORGET: 'router' });
  expect(exit).toBe(0);
  expect(stdout).toBe('CLOSED\n');
  // At most the socket timeout of a blocking read written just before the close (blockMs plus
  // the silence timeout: 11 s by default): ioredis leaves that timer running on close.
  expect(Date.now() - closedAt).toBeLessThan(15_000);
}, 40_000);

// A connection whose socket had closed before close() — its server unreachable, or gone and
// being reconnected to — held the process 2 s after close(): ioredis waits for the 'close' of
// the socket it ends, which had come already. An app stopping while Redis was down, or giving
// up its start on an unreachable REDIS_URL, lingered; jest said "did not exit one second after
// the test run has completed" after connections.int.spec.ts.
describe.each(['unreachable', 'dropped'])('a connection %s when closed', (scenario) => {
  it('leaves nothing that keeps the process alive: it exits at once', async () => {
    const child = spawn(
      process.execPath,
      [path.join(__dirname, 'fixtures', 'closed-connections.cjs')],
      {
        env: { ...process.env, REDIS_URL: ns.redisUrl, SCENARIO: scenario },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close', not 'exit': the pipes may still hold its last lines when it has exited.
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const code = await within(
      20_000,
      exited,
      `the process to exit after closing its connection (${scenario})`,
    ).finally(() => child.kill('SIGKILL'));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const [closed, left] = stdout.trim().split('\n');
    expect(closed).toBe('CLOSED');
    // What kept it alive right after close(), but its own stdio: the 2 s timer was a Timeout.
    expect((JSON.parse(left!) as string[]).filter((kind) => kind !== 'PipeWrap')).toEqual([]);
  }, 30_000);
});
