import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:net';
import { freePort } from './free-port';
import { startServiceProcess } from './service.process';

/** An "app" whose server takes connections and reads requests but never answers one. */
const SILENT_APP = `
require('node:http')
  .createServer(() => {})
  .listen(Number(process.env.PORT), process.env.HOST);
`;

describe('startServiceProcess', () => {
  let appDir: string;

  beforeAll(async () => {
    appDir = await mkdtemp(path.join(tmpdir(), 'service-process-'));
    await mkdir(path.join(appDir, 'dist'));
    await writeFile(path.join(appDir, 'dist', 'main.js'), SILENT_APP);
  });

  afterAll(async () => {
    await rm(appDir, { recursive: true, force: true });
  });

  it('gives up at its deadline on a server that never answers, and kills it', async () => {
    // Each health request waited for an answer without a bound of its own: the wait hung far
    // beyond timeoutMs (fetch's own limit is minutes) and the process was never killed.
    const port = await freePort();
    const started = Date.now();
    const failure = await startServiceProcess({
      appDir,
      env: { PORT: String(port) },
      timeoutMs: 1_500,
    }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).toContain('did not become live within 1500 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
    // Killed: nothing listens on its port any more.
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  }, 15_000);
});
