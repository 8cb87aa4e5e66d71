import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import path from 'node:path';
import { TokenService } from '../../packages/platform/src/auth/token.service';
import { type Servers } from './servers';
import { elapsedMs, judgedRatio, percentiles, progress, Report, type Row } from './stats';

/**
 * Issue #5 item 5: SSE gateway memory per idle connection and broadcast fan-out time, each
 * against a bare node:http SSE server measured in the same run (see bench/README.md).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const root = path.join(__dirname, '..', '..');
const JWT_SECRET = 'bench-secret-that-is-long-enough-0123456789';

interface ServerProcess {
  child: ChildProcess;
  port: number;
  ask<T>(message: object, key: string): Promise<T>;
}

async function startServer(mode: 'bare' | 'gateway'): Promise<ServerProcess> {
  const child = fork(path.join(__dirname, 'sse.server.ts'), [mode], {
    // tsx for this script; no @causeway/source condition: the gateway runs from dist like the app.
    execArgv: ['--expose-gc', '--max-old-space-size=2048', '--import', 'tsx'],
    env: { ...process.env, JWT_SECRET },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message));
    child.once('exit', (code) =>
      reject(new Error(`sse bench server (${mode}) exited with ${code}`)),
    );
  });
  const waiters = new Map<string, (value: unknown) => void>();
  child.on('message', (message: Record<string, unknown>) => {
    for (const key of Object.keys(message)) {
      const resolve = waiters.get(key);
      waiters.delete(key);
      resolve?.(message[key]);
    }
  });
  const ask = <T>(message: object, key: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not answer ${key}`)), 60_000);
      waiters.set(key, (value) => {
        clearTimeout(timer);
        resolve(value as T);
      });
      child.send(message);
    });
  const port = ready.port;
  return { child, port, ask };
}

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** N streams held open by raw http requests; each counts the broadcasts it has seen. */
class Clients {
  private readonly requests: ClientRequest[] = [];
  private seen = new Map<string, number>();
  private waiting: { n: string; resolve: () => void } | undefined;

  constructor(private readonly port: number) {}

  /** Opens streams `from` … `to - 1` (`headers` gets the index), 200 at a time. */
  async open(
    from: number,
    to: number,
    headers: (i: number) => Record<string, string>,
  ): Promise<void> {
    let next = from;
    const one = () =>
      new Promise<void>((resolve, reject) => {
        const i = next++;
        const req = request(
          {
            host: '127.0.0.1',
            port: this.port,
            path: '/events',
            agent: false,
            headers: headers(i),
          },
          (res) => {
            if (res.statusCode !== 200) return reject(new Error(`stream ${i}: ${res.statusCode}`));
            res.setEncoding('utf8');
            let first = true;
            res.on('data', (chunk: string) => {
              if (first) {
                first = false;
                resolve();
              }
              const at = chunk.lastIndexOf('"n":"b');
              if (at >= 0) this.saw(chunk.slice(at + 5, chunk.indexOf('"', at + 5)));
            });
          },
        );
        req.on('error', reject);
        req.end();
        this.requests.push(req);
      });
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        while (next < to) await one();
      }),
    );
  }

  private saw(n: string): void {
    const seen = (this.seen.get(n) ?? 0) + 1;
    this.seen.set(n, seen);
    if (this.waiting?.n === n && seen >= this.requests.length) this.waiting.resolve();
  }

  /** Resolves when every stream has received broadcast `n`. */
  all(n: string, timeoutMs = 60_000): Promise<void> {
    if ((this.seen.get(n) ?? 0) >= this.requests.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`broadcast ${n} reached ${this.seen.get(n) ?? 0} of ${this.requests.length}`),
          ),
        timeoutMs,
      );
      this.waiting = {
        n,
        resolve: () => {
          clearTimeout(timer);
          this.waiting = undefined;
          resolve();
        },
      };
    });
  }

  close(): void {
    for (const req of this.requests) req.destroy();
    this.requests.length = 0;
  }
}

interface Measurement {
  /** Growth per connection between N/2 and N open streams (the slope, not growth from start). */
  perConnectionRss: number;
  perConnectionHeap: number;
  /** Bench process: from sending the broadcast order until every client has read the frame. */
  fanOutMs: number[];
  /** Inside the server: from the order's arrival to the last write callback of the frame. */
  inServerMs: number[];
}

/** Waits (bounded) until the server holds `expected` streams; fails with the count it holds. */
async function held(server: ServerProcess, mode: string, expected: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  let count = await server.ask<number>({ cmd: 'count' }, 'count');
  while (count < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    count = await server.ask<number>({ cmd: 'count' }, 'count');
  }
  if (count !== expected)
    throw new Error(`sse ${mode}: the server holds ${count} streams, not the ${expected} opened`);
}

async function measure(
  mode: 'bare' | 'gateway',
  connections: number,
  broadcasts: number,
  tokens: string[],
): Promise<Measurement> {
  const server = await startServer(mode);
  const clients = new Clients(server.port);
  const headers = (i: number) => ({ Authorization: `Bearer ${tokens[i]}` });
  try {
    // Memory per connection is the slope between N/2 and N open streams: the growth from the
    // process's start would also count what the first connections cost once (the allocator's
    // arenas, buffers and code paths warmed), which differs between the two servers.
    const half = Math.floor(connections / 2);
    progress(`sse ${mode}: opening ${half} streams`);
    await clients.open(0, half, headers);
    await held(server, mode, half);
    const before = await server.ask<Memory>({ cmd: 'mem' }, 'mem');
    progress(`sse ${mode}: opening ${connections - half} more streams`);
    await clients.open(half, connections, headers);
    await held(server, mode, connections);
    const after = await server.ask<Memory>({ cmd: 'mem' }, 'mem');
    const fanOutMs: number[] = [];
    const inServerMs: number[] = [];
    for (let i = 0; i < broadcasts + 2; i++) {
      const n = `b${mode}${i}`;
      const started = process.hrtime.bigint();
      // Timed when the last client read the frame, not when the server's answer came too.
      const [atClients, inServer] = await Promise.all([
        clients.all(n).then(() => elapsedMs(started)),
        server.ask<number>({ cmd: 'broadcast', n }, 'fanned'),
      ]);
      if (i < 2) continue; // 2 warm-ups
      fanOutMs.push(atClients);
      inServerMs.push(inServer);
    }
    const added = connections - half;
    return {
      perConnectionRss: (after.rss - before.rss) / added,
      perConnectionHeap:
        (after.heapUsed + after.external - before.heapUsed - before.external) / added,
      fanOutMs,
      inServerMs,
    };
  } finally {
    clients.close();
    server.child.kill('SIGKILL');
  }
}

/** The issue's absolute fan-out targets (p50 at the clients), at the sizes it names. */
const FAN_OUT_LIMIT_MS: Record<number, number> = { 1_000: 25, 10_000: 150 };

export async function sseBench(_servers: Servers): Promise<Report> {
  const report = new Report('sse');
  if (!existsSync(path.join(root, 'apps', 'sse-gateway', 'dist', 'index.js')))
    throw new Error(
      'build the gateway first: npx turbo run build --filter=@causeway/sse-gateway...',
    );
  const issuer = new TokenService({ secret: JWT_SECRET });
  const sizes = [1_000, 10_000].map((n) => Math.max(10, Math.round(n * SCALE)));
  const tokens = await Promise.all(
    Array.from(
      { length: Math.max(...sizes) },
      async (_, i) => (await issuer.issue(`user-${i}`)).token,
    ),
  );
  const memoryRows: Row[] = [];
  const fanOutRows: Row[] = [];
  const kb = (bytes: number) => bytes / 1024;
  for (const size of sizes) {
    const broadcasts = 7;
    // bare, gateway, gateway, bare would need 4 × 10 000 connections; one of each per size.
    const raw = await measure('bare', size, broadcasts, tokens);
    const ours = await measure('gateway', size, broadcasts, tokens);
    const p50 = (values: number[]) => percentiles(values).p50;
    const half = Math.floor(size / 2);
    const slope = `${half.toLocaleString('en-US')} → ${size.toLocaleString('en-US')} connections`;
    const rss = ours.perConnectionRss / raw.perConnectionRss;
    memoryRows.push({
      benchmark: `idle memory per connection (RSS growth), ${slope}`,
      causeway: `${kb(ours.perConnectionRss).toFixed(1)} KB`,
      raw: `${kb(raw.perConnectionRss).toFixed(1)} KB`,
      ...judgedRatio(rss, (r) => r <= 2),
      target: `≤ 2× and ≤ 25 KB ${rss <= 2 && kb(ours.perConnectionRss) <= 25 ? 'ok' : 'MISSED'}`,
    });
    memoryRows.push({
      benchmark: `idle memory per connection (JS heap + external growth), ${slope}`,
      causeway: `${kb(ours.perConnectionHeap).toFixed(1)} KB`,
      raw: `${kb(raw.perConnectionHeap).toFixed(1)} KB`,
      ratio: Math.round((ours.perConnectionHeap / raw.perConnectionHeap) * 100) / 100,
    });
    const streams = `${size.toLocaleString('en-US')} streams (p50 of ${broadcasts})`;
    const atClients = p50(ours.fanOutMs) / p50(raw.fanOutMs);
    const limit = FAN_OUT_LIMIT_MS[size];
    const absolute =
      limit === undefined
        ? 'absolute target at 1 000 / 10 000 streams only'
        : `≤ ${limit} ms ${p50(ours.fanOutMs) <= limit ? 'ok' : 'MISSED'}`;
    fanOutRows.push({
      benchmark: `at the clients: broadcast order until all ${streams} have read it`,
      causeway: `${p50(ours.fanOutMs).toFixed(1)} ms`,
      raw: `${p50(raw.fanOutMs).toFixed(1)} ms`,
      ...judgedRatio(atClients, (r) => r <= 1.5),
      target: `≤ 1.5× ${atClients <= 1.5 ? 'ok' : 'MISSED'}; ${absolute}`,
    });
    const inServer = p50(ours.inServerMs) / p50(raw.inServerMs);
    fanOutRows.push({
      benchmark: `inside the server: broadcast order until the last write callback, ${streams}`,
      causeway: `${p50(ours.inServerMs).toFixed(1)} ms`,
      raw: `${p50(raw.inServerMs).toFixed(1)} ms`,
      ...judgedRatio(inServer, (r) => r <= 1.5),
      target: `≤ 1.5× ${inServer <= 1.5 ? 'ok' : 'MISSED'}`,
    });
  }
  report.table(
    'SSE idle memory per connection (ratio = gateway ÷ bare; lower is better)',
    memoryRows,
  );
  report.table('SSE broadcast fan-out time (ratio = gateway ÷ bare; lower is better)', fanOutRows);
  report.note(
    'Gateway: built GatewayModule + CausewayServiceModule (pino-http, metrics) over the in-memory NotificationLog, ' +
      'JWT-authenticated streams, one user per stream; bare: node:http writing the same frames. Servers run in ' +
      'their own processes (memory measured there after gc, at N/2 and at N streams: the rows are the growth ' +
      'per connection between the two); clients are raw http requests in the bench process. Fan-out "at the ' +
      'clients" includes what both sides share (IPC, the clients\' reads); "inside the server" is the server\'s ' +
      'own part: from the order to the callback of the last res.write of the frame.',
  );
  return report;
}
