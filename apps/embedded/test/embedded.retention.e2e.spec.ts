import path from 'node:path';
import { devToken, startServiceProcess, type ServiceProcess } from '@causeway/testkit';

// The embedded app's in-memory event store keeps a bounded number of events per trainer: the
// retention job removes the older ones (EVENT_RETENTION_MAX_COUNT) once the outbox forwarder and
// the read models' catch-up have passed them, and the trainer goes on from its snapshot.
describe('embedded mode: event store retention', () => {
  let app: ServiceProcess;
  const kept = 5;

  beforeAll(async () => {
    app = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        JWT_SECRET: 'embedded-test-secret-0123456789-abcdef',
        DEV_TOKENS: 'true',
        LOG_LEVEL: 'info',
        SNAPSHOT_EVERY: String(kept),
        EVENT_RETENTION_MAX_COUNT: String(kept),
        EVENT_RETENTION_INTERVAL_MS: '100',
        CATCH_UP_INTERVAL_MS: '100',
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function move(token: string, trainerId: string, directionX: number) {
    const response = await fetch(`${app.url}/api/trainers/${trainerId}/move`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ directionX, directionY: 0, action: 'stop' }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { commandId: string }).commandId;
  }
  async function processed(token: string, commandId: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await fetch(`${app.url}/api/commands/${commandId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await response.json()) as Record<string, unknown>;
      if (body.status !== 'accepted' || Date.now() > deadline) return body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  /** What the store holds after the latest retention run that removed events, when one did. */
  function heldAfterRetention(): number | undefined {
    const runs = app
      .stdoutLines()
      .filter((line) => line.includes('EventRetention'))
      .map((line) => JSON.parse(line) as { context?: string; msg?: string })
      .filter((line) => line.context === 'EventRetention')
      .map((line) => /the event store holds (\d+)/.exec(line.msg ?? '')?.[1]);
    const last = runs.at(-1);
    return last === undefined ? undefined : Number(last);
  }

  it('removes all but the last EVENT_RETENTION_MAX_COUNT events of a trainer; its commands go on', async () => {
    const token = await devToken(app.url, 'gary');
    const moves = 6 * kept;
    for (let i = 1; i <= moves; i++) {
      const status = await processed(token, await move(token, 'gary', i % 2 === 0 ? 1 : -1));
      expect(status).toMatchObject({ status: 'processed', version: i });
    }
    // Retention runs every 100 ms and waits for the readers' checkpoints (the catch-up every
    // 100 ms): the store ends with the trainer's last `kept` events.
    const deadline = Date.now() + 15_000;
    while (heldAfterRetention() !== kept && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heldAfterRetention()).toBe(kept);

    // The trainer loads from its snapshot and the events kept: its next command is applied at
    // the next version, and its position is served.
    const next = await processed(token, await move(token, 'gary', 1));
    expect(next).toMatchObject({ status: 'processed', version: moves + 1 });
    const positions = await fetch(`${app.url}/api/positions`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(positions.status).toBe(200);
    expect(JSON.stringify(await positions.json())).toContain('gary');
  });
});
