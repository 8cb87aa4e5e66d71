import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

// The BUILT command-api (its bootstrap is every app's: bootstrapService): a process warning —
// CausewayPoisonWarning, CausewayTrimWarning, CAUSEWAY_SNAPSHOT_FAILED, a deprecation — is one
// JSON warn line on stdout, never Node's plain-text `(node:N) [CODE] Warning: …` on stderr.
const appDir = path.join(__dirname, '..');
const ns = testNamespace('capiwarn');
const dir = mkdtempSync(path.join(tmpdir(), 'capiwarn-'));
// Preloaded into the app's process: one warning before the app has a logger, then one every
// 200 ms (until the test has seen one through the app's logger).
const preload = path.join(dir, 'warnings.cjs');
writeFileSync(
  preload,
  `process.emitWarning('Snapshot load failed early', { code: 'CAUSEWAY_SNAPSHOT_FAILED' });
let n = 0;
setInterval(() => {
  process.emitWarning('Snapshot load failed ' + n++, { code: 'CAUSEWAY_SNAPSHOT_FAILED' });
  process.emitWarning('undecodable entry', 'CausewayPoisonWarning');
}, 200).unref();
`,
);

let api: ServiceProcess;

beforeAll(async () => {
  api = await startServiceProcess({
    appDir,
    env: {
      REDIS_URL: serverAddress('redis'),
      KAFKA_BROKERS: serverAddress('kafka'),
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: `jwt-${ns.id}-0123456789-0123456789`,
      TOPIC_PREFIX: ns.id,
      NODE_OPTIONS: `--require ${preload}`,
    },
  });
  await waitForStatus(`${api.url}/health/ready`, 200);
});

afterAll(async () => {
  await api?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function warningLines(pattern: RegExp, timeoutMs = 10_000): Promise<Json[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = api
      .stdoutLines()
      .filter((line) => pattern.test(line))
      .map((line) => JSON.parse(line) as Json);
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('logs process warnings as JSON warn lines, from start-up on, and never as plain text', async () => {
  const early = await warningLines(/Snapshot load failed early/);
  expect(early).toEqual([
    expect.objectContaining({
      level: 40,
      service: 'command-api',
      context: 'ProcessWarning',
      msg: 'Warning [CAUSEWAY_SNAPSHOT_FAILED]: Snapshot load failed early',
      warning: {
        name: 'Warning',
        code: 'CAUSEWAY_SNAPSHOT_FAILED',
        message: 'Snapshot load failed early',
      },
    }),
  ]);
  // Through the app's logger (pino: its instance field), once the app runs.
  const late = await warningLines(/"instance".*Snapshot load failed \d/);
  expect(late[0]).toMatchObject({
    level: 40,
    service: 'command-api',
    context: 'ProcessWarning',
    warning: { name: 'Warning', code: 'CAUSEWAY_SNAPSHOT_FAILED' },
  });
  expect((await warningLines(/CausewayPoisonWarning/))[0]).toMatchObject({
    level: 40,
    msg: 'CausewayPoisonWarning: undecodable entry',
  });
  expect(api.stderr()).not.toMatch(/Warning|\(node:/);
});

it('warns of dev tokens only when they are on (DEV_TOKENS defaults to false)', async () => {
  // Started (ready, see beforeAll), dev tokens off: not there, and not announced.
  const mint = await fetch(`${api.url}/api/dev/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'ash' }),
  });
  expect(mint.status).toBe(404);
  expect(api.stdoutLines().filter((line) => line.includes('DEV_TOKENS'))).toEqual([]);
});
