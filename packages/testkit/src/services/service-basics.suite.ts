import { spawn } from 'node:child_process';
import { SERVER_ENV, serverAddress, type ServerName } from '../servers/server.catalog';
import { removeNamespaceData } from '../names/namespace.cleanup';
import { testNamespace } from '../names/test-namespace';
import { startServiceProcess, waitForStatus, type ServiceProcess } from './service.process';

export interface ServiceBasicsSpec {
  service: string;
  appDir: string;
  /** The servers the app connects to; each must appear in /health/ready, unless informational. */
  servers: ServerName[];
  /**
   * Of `servers`, those the app only reports (a `critical: false` probe: in /health, never in
   * /health/ready), e.g. Kafka where it carries none of the app's traffic.
   */
  informational?: ServerName[];
  /** The app's own readiness checks besides servers and bus (e.g. trainer-service's `trainer-commands`). */
  checks?: string[];
}

/**
 * What every Causeway app promises (issue "Foundation"): it starts as a real process, logs JSON,
 * answers /health/live, /health/ready (its servers answer a real request) and /metrics, refuses
 * to start on a missing or malformed setting naming it, and stops cleanly on SIGTERM.
 */
export function describeServiceBasics(spec: ServiceBasicsSpec): void {
  describe(`${spec.service} service basics`, () => {
    const ns = testNamespace(spec.service);
    const adminToken = `admin-${ns.id}-0123456789`;
    const serverEnv = (): Record<string, string> => ({
      ...Object.fromEntries(
        spec.servers.map((name) => [
          SERVER_ENV[name],
          name === 'mongodb' ? ns.mongoUri() : serverAddress(name),
        ]),
      ),
      ADMIN_TOKEN: adminToken,
      JWT_SECRET: `jwt-${ns.id}-0123456789-0123456789`,
      // Isolates this file's streams, dead letters and dedup keys from other test files.
      TOPIC_PREFIX: ns.id,
    });
    let service: ServiceProcess;

    beforeAll(async () => {
      service = await startServiceProcess({
        appDir: spec.appDir,
        env: { ...serverEnv(), INSTANCE_ID: `${spec.service}-t1` },
      });
    });
    afterAll(async () => {
      await service?.stop('SIGKILL');
      await removeNamespaceData(ns, spec.servers);
    });

    it('answers /health/live with its name', async () => {
      const response = await fetch(`${service.url}/health/live`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        status: 'ok',
        service: spec.service,
        instanceId: `${spec.service}-t1`,
      });
    });

    it('is ready once every server it uses answers a real request', async () => {
      const response = await waitForStatus(`${service.url}/health/ready`, 200);
      const body = (await response.json()) as {
        status: string;
        info: Record<string, { status: string }>;
      };
      expect(body.status).toBe('ok');
      // Every server it uses, its message bus, that its stream layout is the deployment's, and
      // that its Redis Streams subscriptions make progress.
      const checks = [
        ...spec.servers.filter((name) => !spec.informational?.includes(name)),
        'bus',
        'streams-layout',
        'redis-streams',
        ...(spec.checks ?? []),
      ];
      expect(Object.keys(body.info).sort()).toEqual(checks.sort());
      for (const name of checks) expect(body.info[name]?.status).toBe('up');
    });

    it('keeps a history of periodic health checks at /health', async () => {
      await waitForStatus(`${service.url}/health/ready`, 200);
      const body = (await (await fetch(`${service.url}/health`)).json()) as {
        service: string;
        status: string;
        probes: Record<string, { healthy: boolean; history: unknown[] }>;
      };
      expect(body.service).toBe(spec.service);
      expect(Object.keys(body.probes)).toEqual(expect.arrayContaining([...spec.servers]));
      for (const name of spec.servers)
        expect(body.probes[name]?.history.length).toBeGreaterThanOrEqual(1);
    });

    it('serves Prometheus metrics, including its connections', async () => {
      await waitForStatus(`${service.url}/health/ready`, 200);
      const response = await fetch(`${service.url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await response.text();
      expect(text).toContain('process_cpu_user_seconds_total');
      // Messaging: throughput, outcomes, latency, consumer lag, breakers.
      for (const metric of [
        'causeway_messages_published_total',
        'causeway_messages_handled_total',
        'causeway_handler_duration_seconds',
        'causeway_consumer_lag',
        'causeway_consumer_pending',
        'causeway_circuit_breaker_state',
      ]) {
        expect(text).toContain(`# TYPE ${metric} `);
      }
      for (const name of spec.servers) {
        expect(text).toMatch(
          new RegExp(`causeway_connection_up\\{[^}]*server="${name}"[^}]*\\} 1`),
        );
      }
      // Every series names its service and instance, and leaves Prometheus's own `instance`
      // label (the scrape target) alone.
      expect(text).toContain(`service="${spec.service}",instance_id="${spec.service}-t1"`);
      expect(text).not.toMatch(/[{,]instance="/);
    });

    it('guards /admin/dead-letters with the admin token', async () => {
      const anonymous = await fetch(`${service.url}/admin/dead-letters/stats`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
      const wrong = await fetch(`${service.url}/admin/dead-letters/stats`, {
        headers: { Authorization: 'Bearer not-the-admin-token' },
      });
      expect(wrong.status).toBe(401);
      const admin = await fetch(`${service.url}/admin/dead-letters/stats`, {
        headers: { Authorization: `Bearer ${adminToken}` },
      });
      expect(admin.status).toBe(200);
      expect(await admin.json()).toEqual({ total: 0, byTopic: {}, byReason: {} });
    });

    it("answers guesses of the admin token beyond the address's rate with 429, and still serves the token", async () => {
      const guess = (token: string) =>
        fetch(`${service.url}/admin/dead-letters?all=true`, {
          method: 'DELETE',
          headers: { Authorization: `Bearer ${token}` },
        });
      // The address may already have spent some of its 10 refusals a minute (ADMIN_REFUSALS) above.
      const answers: number[] = [];
      for (let i = 0; i <= 10 && !answers.includes(429); i++)
        answers.push((await guess(`guess-${i}-0123456789abcdef`)).status);
      expect(answers.at(-1)).toBe(429);
      expect(answers.slice(0, -1).every((status) => status === 401)).toBe(true);
      const limited = await guess('yet-another-guess-0123456789');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(await limited.json()).toMatchObject({
        type: 'https://causeway.dev/problems/rate-limited',
        status: 429,
      });
      const admin = await fetch(`${service.url}/admin/dead-letters/stats`, {
        headers: { Authorization: `Bearer ${adminToken}` },
      });
      expect(admin.status).toBe(200);
    });

    it('answers a body that is not JSON with a malformed-json problem, and does nothing', async () => {
      const replay = (body: string, type: string) =>
        fetch(`${service.url}/admin/dead-letters/replay`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': type },
          body,
        });
      const malformed = await replay('{"all": tru', 'application/json');
      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('content-type')).toContain('application/problem+json');
      expect(await malformed.json()).toMatchObject({
        type: 'https://causeway.dev/problems/malformed-json',
        status: 400,
        detail: expect.stringMatching(/^the body is not valid JSON: .*JSON/),
        instance: '/admin/dead-letters/replay',
      });
      const latin1 = await replay('{"all": true}', 'application/json; charset=latin1');
      expect(latin1.status).toBe(415);
      expect(await latin1.json()).toMatchObject({
        type: 'https://causeway.dev/problems/unsupported-media-type',
        detail: expect.stringContaining('unsupported charset "LATIN1"'),
      });
      const stats = await fetch(`${service.url}/admin/dead-letters/stats`, {
        headers: { Authorization: `Bearer ${adminToken}` },
      });
      expect(await stats.json()).toEqual({ total: 0, byTopic: {}, byReason: {} });
    });

    it('logs JSON lines that carry the service name', async () => {
      await fetch(`${service.url}/health/live`);
      const lines = service.stdoutLines();
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        const entry = JSON.parse(line) as { level: number; service: string; msg: string };
        expect(entry.service).toBe(spec.service);
        expect(typeof entry.level).toBe('number');
      }
      // Secrets never reach the logs.
      expect(lines.join('\n')).not.toContain(adminToken);
      expect(lines.some((line) => line.includes('listening on'))).toBe(true);
    });

    it('answers an unknown path with 404 problem details, never echoing or logging a credential', async () => {
      const secret = `secret-${ns.id}`;
      const response = await fetch(
        `${service.url}/no-such-path?token=${secret}&page=2&Access_Token=${secret}&id_token=${secret}`,
      );
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ status: 404, title: 'Not Found', instance: '/no-such-path' });
      expect(JSON.stringify(body)).not.toContain(secret);
      // The access log line is written once the response finished: wait for it.
      const deadline = Date.now() + 5_000;
      let line: string | undefined;
      while (!line && Date.now() < deadline) {
        line = service.stdoutLines().find((l) => l.includes('/no-such-path'));
        if (!line) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(line).toContain('token=[Redacted]&page=2&Access_Token=[Redacted]&id_token=[Redacted]');
      expect(service.stdoutLines().join('\n')).not.toContain(secret);
    });

    it('repeats at most the first 256 characters of a long unknown path in its 404', async () => {
      const long = `/unknown-${'a'.repeat(5_000)}`;
      const response = await fetch(`${service.url}${long}`);
      expect(response.status).toBe(404);
      const body = (await response.json()) as { instance: string; detail: string };
      expect(body.instance).toBe(`${long.slice(0, 256)}…`);
      expect(body.detail).not.toContain(long.slice(0, 300));
      expect(JSON.stringify(body).length).toBeLessThan(1_000);
    });

    it('reports not ready, naming the server, while a server is unreachable', async () => {
      const [first] = spec.servers as [ServerName];
      const unreachable: Record<ServerName, string> = {
        redis: 'redis://127.0.0.1:1',
        kafka: '127.0.0.1:1',
        mongodb: 'mongodb://127.0.0.1:1/unreachable',
      };
      const broken = await startServiceProcess({
        appDir: spec.appDir,
        env: { ...serverEnv(), [SERVER_ENV[first]]: unreachable[first] },
      });
      try {
        const response = await waitForStatus(`${broken.url}/health/ready`, 503);
        const body = (await response.json()) as { error: Record<string, { status: string }> };
        expect(body.error[first]?.status).toBe('down');
        expect((await fetch(`${broken.url}/health/live`)).status).toBe(200);
      } finally {
        await broken.stop('SIGKILL');
      }
    });

    it.each([...spec.servers.map((name) => SERVER_ENV[name]), 'ADMIN_TOKEN'])(
      'refuses to start without %s, naming it',
      async (setting) => {
        const refused = await startServiceProcess({
          appDir: spec.appDir,
          env: { ...serverEnv(), [setting]: undefined },
          waitFor: 'spawn',
        });
        expect(await refused.exited).toBe(1);
        expect(refused.stderr()).toContain(`${setting}: is required`);
      },
    );

    it('stops by itself once the supervisor named by SUPERVISOR_PID is gone', async () => {
      // A stand-in for the launcher, killed the way that passes no signal on to its apps.
      const supervisor = spawn(process.execPath, ['-e', 'setInterval(() => undefined, 1000)'], {
        stdio: 'ignore',
      });
      const supervisorExited = new Promise((resolve) => supervisor.once('exit', resolve));
      const supervised = await startServiceProcess({
        appDir: spec.appDir,
        env: { ...serverEnv(), SUPERVISOR_PID: String(supervisor.pid) },
      });
      try {
        // Alive while the supervisor is.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect((await fetch(`${supervised.url}/health/live`)).status).toBe(200);
        supervisor.kill('SIGKILL');
        await supervisorExited;
        // The losing timer is cleared: left running, it held jest 15 s past the last test.
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([
          supervised.exited,
          new Promise((resolve) => {
            timer = setTimeout(() => resolve('still running'), 15_000);
          }),
        ]);
        clearTimeout(timer);
        expect(code).toBe(0);
        expect(supervised.stdoutLines().join('\n')).toContain(
          `supervisor (pid ${supervisor.pid}) gone; shutting down`,
        );
      } finally {
        supervisor.kill('SIGKILL');
        await supervised.stop('SIGKILL');
      }
    });

    it('refuses a malformed SUPERVISOR_PID, naming it', async () => {
      const refused = await startServiceProcess({
        appDir: spec.appDir,
        env: { ...serverEnv(), SUPERVISOR_PID: 'launcher' },
        waitFor: 'spawn',
      });
      expect(await refused.exited).toBe(1);
      expect(refused.stderr()).toContain('SUPERVISOR_PID: expected the pid');
    });

    it('refuses a malformed PORT, naming it', async () => {
      const refused = await startServiceProcess({
        appDir: spec.appDir,
        env: { ...serverEnv(), PORT: 'eighty' },
        waitFor: 'spawn',
      });
      expect(await refused.exited).toBe(1);
      const entry = JSON.parse(refused.stderr().trim().split('\n').pop() ?? '{}') as {
        level: number;
        msg: string;
      };
      expect(entry.level).toBe(60); // pino's fatal, like every other line
      expect(entry.msg).toMatch(/PORT: must be a TCP port/);
    });

    it('fails to start on a port in use with one JSON line naming PORT, and exits', async () => {
      const refused = await startServiceProcess({
        appDir: spec.appDir,
        env: { ...serverEnv(), PORT: String(service.port) },
        waitFor: 'spawn',
      });
      expect(await refused.exited).toBe(1);
      const lines = refused.stderr().trim().split('\n');
      const entry = JSON.parse(lines.pop() ?? '{}') as { level: number; msg: string };
      expect(entry).toMatchObject({ level: 60, service: spec.service });
      expect(entry.msg).toBe(
        `cannot listen on 127.0.0.1:${service.port}: the port is in use (PORT)`,
      );
      // Nothing but JSON lines, on both streams.
      for (const line of [...lines, ...refused.stdoutLines()].filter(Boolean))
        expect(() => JSON.parse(line) as unknown).not.toThrow();
    });

    it('fails to start on a malformed OTLP endpoint with one JSON line naming it, never its credentials', async () => {
      const refused = await startServiceProcess({
        appDir: spec.appDir,
        env: { ...serverEnv(), OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://user:s3cretpw@collector:4317' },
        waitFor: 'spawn',
      });
      expect(await refused.exited).toBe(1);
      const lines = [...refused.stderr().trim().split('\n'), ...refused.stdoutLines()].filter(
        Boolean,
      );
      // Nothing but JSON lines (not Nest's plain-text exception handler), one of them fatal.
      for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
      const fatal = lines
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((entry) => entry.level === 60);
      expect(fatal).toEqual([
        expect.objectContaining({
          msg: expect.stringContaining(
            'OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL, got one with the scheme "grpc:"',
          ) as unknown,
        }),
      ]);
      expect(lines.join('\n')).not.toContain('s3cretpw');
    });

    it('stops cleanly on SIGTERM', async () => {
      const extra = await startServiceProcess({ appDir: spec.appDir, env: serverEnv() });
      await waitForStatus(`${extra.url}/health/ready`, 200);
      expect(await extra.stop('SIGTERM')).toBe(0);
    });
  });
}
