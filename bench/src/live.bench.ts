import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { testNamespace, withDatabase } from '@causeway/testkit';
import Redis from 'ioredis';
import { MongoClient } from 'mongodb';
import {
  launchSystem,
  planInstances,
  stopSystem,
  type RunningInstance,
} from '../../packages/launcher/src';
import { cpuSample, type CpuSubject, listenerSubject } from './live.cpu';
import { measureRawHops, rawPath } from './live.hops';
import { Observer, type Sighting } from './live.observer';
import { type Servers } from './servers';
import {
  elapsedMs,
  type LatencyRow,
  type Percentiles,
  percentiles,
  pool,
  progress,
  Report,
  type Row,
} from './stats';

/**
 * Issue #5 item 8: a move, from its intended send (its slot in the fixed-rate schedule) to the
 * first client receiving its `position.update` and to the last-opened streams receiving it, at
 * 200 and 1 000 commands/s with 1 000 clients connected, on the distributed system (command-api,
 * two trainer-service, projection-worker, two sse-gateway processes on the local servers),
 * beside the raw path (the raw hops measured in the same run, see rawPath).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const root = path.join(__dirname, '..', '..');
const APPS = ['command-api', 'trainer-service', 'projection-worker', 'sse-gateway'];
const CLIENTS = Number(process.env.BENCH_LIVE_CLIENTS ?? 1_000);
/** Trainers moved; each has one observed stream per gateway, the other clients only drain. */
const MOVERS = Math.min(200, Math.floor(CLIENTS / 2));
const RATES = (process.env.BENCH_LIVE_RATES ?? '200,1000').split(',').map(Number);
/**
 * Who receives a move: `broadcast` (no trainer in a group: every move goes to all streams, the
 * fan-out worst case) and `rooms` (every user in one of {@link ROOMS} groups, a move goes to the
 * streams of its room only, as in a game where players see their party or map). Run in this order.
 */
const AUDIENCES = (process.env.BENCH_LIVE_AUDIENCES ?? 'broadcast,rooms').split(',');
for (const audience of AUDIENCES)
  if (audience !== 'broadcast' && audience !== 'rooms')
    throw new Error(`BENCH_LIVE_AUDIENCES: unknown audience ${audience} (broadcast, rooms)`);
/** trainer-service instances (the issue's deployment has two). */
const TRAINER_SERVICES = Number(process.env.BENCH_LIVE_TRAINER_SERVICES ?? 2);
/** A file name prefix: each run's moves (sent time and the time to each sighting) go to `<prefix>-<audience>-<rate>.json`. */
const TRACE = process.env.BENCH_LIVE_TRACE;
/** Rooms of 10 movers each, the watchers spread over them. */
const ROOMS = Math.max(1, Math.floor(MOVERS / 10));
const SECONDS = Math.max(3, Math.round(10 * SCALE));
/** How long a run waits after its last send for every move's frame (bounded: a backlog may outlast it). */
const SETTLE_MS = 30_000;
/** Consecutive angles of one trainer's moves differ by the golden angle: never twice the same. */
const GOLDEN = Math.PI * (3 - Math.sqrt(5));
/** Setup commands are sent this many at a time, each chunk processed before the next (commandEach). */
const SETUP_CHUNK = 100;
/** How long one chunk of setup commands may take to be processed (past their own deadline). */
const SETUP_WAIT_MS = Number(process.env.BENCH_LIVE_SETUP_WAIT_MS ?? 120_000);

interface Move {
  trainerId: string;
  angle: number;
  /**
   * When the schedule wanted it sent (`started + i / rate`): the latencies count from here. A
   * busy load generator wakes late and sends overdue moves in a burst; timing them from `sent`
   * would leave that wait out of exactly the moves it hit (coordinated omission).
   */
  intended: bigint;
  /** When drive() actually got to it (just before the HTTP request was written). */
  sent: bigint;
  accepted?: bigint;
  commandId?: string;
  result?: bigint;
  /** At the first observed stream (of either gateway): the best-placed client. */
  position?: bigint;
  /** At the last-opened stream of each gateway, the later of them: the worst-placed clients. */
  last?: bigint;
  /** The gateways whose last-opened stream saw it (undefined: none yet). */
  lastSeenBy?: Set<number>;
}

class Moves {
  readonly all: Move[] = [];
  private readonly waiting = new Map<string, Move[]>();
  /** Moves not yet seen at the last-opened stream of every gateway, by trainer. */
  private readonly waitingLast = new Map<string, Move[]>();
  private readonly byCommand = new Map<string, Move>();
  private readonly earlyResults = new Map<string, bigint>();
  private sequence = 0;

  /** `gateways`: how many last-opened streams (one per gateway) must see each move. */
  constructor(private readonly gateways: number) {}

  next(trainerId: string, intended: bigint): Move {
    const angle = ((this.sequence++ * GOLDEN) % (2 * Math.PI)) - Math.PI;
    const move: Move = { trainerId, angle, intended, sent: process.hrtime.bigint() };
    this.all.push(move);
    for (const waiting of [this.waiting, this.waitingLast]) {
      const list = waiting.get(trainerId) ?? [];
      list.push(move);
      waiting.set(trainerId, list);
    }
    return move;
  }

  accepted(move: Move, commandId: string): void {
    move.accepted = process.hrtime.bigint();
    move.commandId = commandId;
    this.byCommand.set(commandId, move);
    const early = this.earlyResults.get(commandId);
    if (early !== undefined) move.result = early;
  }

  /** The first sighting wins: the first client (of either gateway) to receive the frame. */
  saw(sighting: Sighting): void {
    if (sighting.kind === 'result') {
      const move = this.byCommand.get(sighting.commandId!);
      if (!move) {
        if (!this.earlyResults.has(sighting.commandId!))
          this.earlyResults.set(sighting.commandId!, sighting.at);
      } else move.result ??= sighting.at;
      return;
    }
    const list = this.waiting.get(sighting.trainerId) ?? [];
    const move = list.find((m) => Math.abs(m.angle - sighting.angle!) < 1e-9);
    if (!move || move.position !== undefined) return;
    move.position = sighting.at;
    list.splice(list.indexOf(move), 1);
  }

  /** A position.update at the last-opened stream of gateway `gateway`. */
  sawLast(sighting: Sighting, gateway: number): void {
    if (sighting.kind !== 'position') return;
    const list = this.waitingLast.get(sighting.trainerId) ?? [];
    const move = list.find((m) => Math.abs(m.angle - sighting.angle!) < 1e-9);
    if (!move) return;
    move.lastSeenBy ??= new Set();
    move.lastSeenBy.add(gateway);
    if (move.lastSeenBy.size < this.gateways) return;
    move.last = sighting.at;
    list.splice(list.indexOf(move), 1);
  }

  outstanding(): number {
    let n = 0;
    for (const waiting of [this.waiting, this.waitingLast])
      for (const list of waiting.values()) n += list.length;
    return n;
  }
}

function call(
  agent: Agent,
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  body: unknown,
  token?: string,
  retried = false,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { hostname, port, pathname } = new URL(url);
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port: Number(port),
        method,
        path: pathname,
        agent,
        headers: {
          ...(payload && { 'content-type': 'application/json' }),
          ...(token && { authorization: `Bearer ${token}` }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          }),
        );
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The keep-alive race: the server closed an idle connection (after its keepAliveTimeout)
      // just as this request was written on it, unread. Sent again on a new one (Node's
      // documented remedy; nothing was handled, so a POST is safe to repeat).
      if (req.reusedSocket && error.code === 'ECONNRESET' && !retried)
        resolve(call(agent, method, url, body, token, true));
      else reject(error);
    });
    req.end(payload);
  });
}

const post = (agent: Agent, url: string, body: unknown, token?: string) =>
  call(agent, 'POST', url, body, token);

/**
 * Sends moves at `rate`/s (open loop, round robin over the movers) for `seconds`. Returns the
 * moves not accepted, counted by reason (an HTTP status or an error code).
 */
async function drive(
  api: string,
  agent: Agent,
  movers: { id: string; token: string }[],
  rate: number,
  seconds: number,
  moves: Moves,
): Promise<{ refused: Map<string, number> }> {
  const started = process.hrtime.bigint();
  const total = rate * seconds;
  let sent = 0;
  const refused = new Map<string, number>();
  const refuse = (reason: string): void => {
    refused.set(reason, (refused.get(reason) ?? 0) + 1);
  };
  const inFlight = new Set<Promise<void>>();
  while (sent < total) {
    const due = Math.min(total, Math.floor((elapsedMs(started) / 1_000) * rate) + 1);
    for (; sent < due; sent++) {
      const mover = movers[sent % movers.length]!;
      const move = moves.next(mover.id, started + BigInt(Math.round((sent / rate) * 1e9)));
      const body = {
        directionX: Math.cos(move.angle),
        directionY: Math.sin(move.angle),
        action: 'start',
        timestamp: Date.now(),
      };
      const done = post(agent, `${api}/api/trainers/${mover.id}/move`, body, mover.token).then(
        (answer) => {
          if (answer.status === 202) moves.accepted(move, answer.body.commandId as string);
          else refuse(`HTTP ${answer.status}`);
        },
        (error: NodeJS.ErrnoException) => refuse(error.code ?? error.message),
      );
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  return { refused };
}

async function cleanUp(servers: Servers, prefix: string, database: string): Promise<void> {
  const redis = new Redis(servers.redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  const mongo = await MongoClient.connect(withDatabase(servers.mongoUri, database));
  await mongo.db().dropDatabase();
  await mongo.close();
}

/** Waits (bounded) until every move of `moves` was seen by a client. */
async function settle(moves: Moves, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (moves.outstanding() > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * A port offset under which every app's ports (base 3000–3014) are free right now. Ports stay
 * below Linux's ephemeral range (32 768+): an outgoing connection made meanwhile may take a port
 * there before the app binds it (EADDRINUSE).
 */
async function freePortOffset(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const offset = 20_000 + Math.floor(Math.random() * 9_000);
    let ok = true;
    for (let port = 3_000; port <= 3_014 && ok; port++) ok = await free(port + offset);
    if (ok) return offset;
  }
  throw new Error('no free port range for the system');
}

const AGENT_OPTIONS = { keepAlive: true, maxSockets: 256 };

interface User {
  id: string;
  token: string;
}

/**
 * Sends one command per user and waits, bounded, until every one is processed: the audience of
 * the next measurement must be in place, not on its way. In chunks of SETUP_CHUNK (16 requests
 * in flight), each processed before the next is sent: on a busy machine trainer-service handles
 * first moves at a few per second, and 800 sent at once would outlive their deadline.
 */
async function commandEach(
  api: string,
  agent: Agent,
  users: readonly User[],
  send: (user: User) => Promise<{ status: number; body: Record<string, unknown> }>,
): Promise<void> {
  let done = 0;
  let reported = Date.now();
  for (let from = 0; from < users.length; from += SETUP_CHUNK) {
    const chunk = users.slice(from, from + SETUP_CHUNK);
    const sent: { user: User; commandId: string }[] = [];
    await pool(chunk.length, 16, async (i) => {
      const answer = await send(chunk[i]!);
      if (answer.status !== 202)
        throw new Error(`setup command of ${chunk[i]!.id}: HTTP ${answer.status}`);
      sent.push({ user: chunk[i]!, commandId: answer.body.commandId as string });
    });
    const started = Date.now();
    let waiting = sent;
    while (waiting.length > 0) {
      if (Date.now() - started > SETUP_WAIT_MS)
        throw new Error(
          `${waiting.length} setup commands not processed within ${SETUP_WAIT_MS / 1000} s`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
      const open: typeof sent = [];
      await pool(waiting.length, 16, async (i) => {
        const { user, commandId } = waiting[i]!;
        const answer = await call(
          agent,
          'GET',
          `${api}/api/commands/${commandId}`,
          undefined,
          user.token,
        );
        if (answer.body.status === 'rejected')
          throw new Error(`setup command of ${user.id} rejected: ${String(answer.body.reason)}`);
        if (answer.body.status !== 'processed') open.push(waiting[i]!);
      });
      waiting = open;
    }
    done += chunk.length;
    if (Date.now() - reported >= 15_000 && done < users.length) {
      reported = Date.now();
      progress(`live: ${done} of ${users.length} setup commands processed`);
    }
  }
}

/**
 * A line with the wall-clock time of the first intended send, then one line per move: ms since
 * then to its intended send, its trainer, ms from its intended send to 202, command.result,
 * position.update at the first client and at the last-opened streams, then how late drive() sent it.
 */
function writeTrace(file: string, moves: readonly Move[]): void {
  const start = moves[0]?.intended ?? 0n;
  // Wall-clock time of the first send, to line the trace up with server logs.
  const epoch = Date.now() - Number(process.hrtime.bigint() - start) / 1e6;
  const lines = moves.map((m) =>
    JSON.stringify([
      ms(start, m.intended),
      m.trainerId,
      ms(m.intended, m.accepted),
      ms(m.intended, m.result),
      ms(m.intended, m.position),
      ms(m.intended, m.last),
      ms(m.intended, m.sent),
    ]),
  );
  writeFileSync(file, `${JSON.stringify({ epoch })}\n${lines.join('\n')}\n`);
  progress(`live: trace written to ${file}`);
}

const ms = (from: bigint, to: bigint | undefined) =>
  to === undefined ? undefined : Number(to - from) / 1e6;

/**
 * Each audience runs on a system and database of its own: in one run the second audience would
 * inherit the first one's events, and on FerretDB every read of the event store scans them.
 */
export async function liveBench(servers: Servers): Promise<Report> {
  const report = new Report('live');
  for (const app of APPS)
    if (!existsSync(path.join(root, 'apps', app, 'dist', 'main.js')))
      throw new Error(`build the apps first: npx turbo run build --filter=@causeway/${app}...`);
  for (const audience of AUDIENCES) await liveRun(servers, audience, report);
  return report;
}

/** Starts the system, measures every rate for one audience, adds its tables, stops it. */
async function liveRun(servers: Servers, audience: string, report: Report): Promise<void> {
  const ns = testNamespace('live');
  const instances = planInstances(
    {
      REDIS_URL: servers.redisUrl,
      KAFKA_BROKERS: servers.kafkaBrokers.join(','),
      MONGODB_URI: withDatabase(servers.mongoUri, ns.database),
    },
    {
      scale: { 'sse-gateway': 2, 'trainer-service': TRAINER_SERVICES },
      portOffset: await freePortOffset(),
      adminToken: `live-${ns.id}-admin-token`,
      jwtSecret: `live-${ns.id}-jwt-secret-0123456789abcdef`,
      devTokens: true,
      logLevel: 'warn',
    },
  ).filter((instance) => instance.app !== 'order-processor');
  for (const instance of instances) {
    instance.env.TOPIC_PREFIX = ns.id;
    instance.env.RATE_LIMIT_POINTS = '100000000';
    // e.g. `--require ./profiler.js` to profile every app of the run (--cpu-prof is not allowed there).
    if (process.env.BENCH_LIVE_NODE_OPTIONS)
      instance.env.NODE_OPTIONS = process.env.BENCH_LIVE_NODE_OPTIONS;
    // e.g. `FORWARDER_POLL_INTERVAL_MS=10000,SNAPSHOT_EVERY=100`: settings of every app.
    for (const pair of (process.env.BENCH_LIVE_SETTINGS ?? '').split(',').filter(Boolean)) {
      const [name, ...value] = pair.split('=');
      instance.env[name!.trim()] = value.join('=').trim();
    }
  }
  progress(`live: starting ${instances.length} processes (prefix ${ns.id})`);
  let running: RunningInstance[] = [];
  const observers: Observer[] = [];
  const load = fork(path.join(__dirname, 'live.clients.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let agent = new Agent(AGENT_OPTIONS);
  try {
    await new Promise((resolve) => load.once('message', resolve));
    running = await launchSystem(instances, {
      root,
      logDir: mkdtempSync(path.join(tmpdir(), 'causeway-bench-live-')),
    });
    const api = running.find((i) => i.app === 'command-api')!.url;
    const gateways = running.filter((i) => i.app === 'sse-gateway');

    const raw = await measureRawHops(
      {
        redisUrl: servers.redisUrl,
        mongoUri: withDatabase(servers.mongoUri, ns.database),
        prefix: ns.id,
      },
      Math.max(100, Math.round(500 * SCALE)),
    );

    const token = async (userId: string) =>
      (await post(agent, `${api}/api/dev/tokens`, { userId })).body.token as string;
    const movers: User[] = await Promise.all(
      Array.from({ length: MOVERS }, async (_, i) => {
        const id = `mover-${i}`;
        return { id, token: await token(id) };
      }),
    );
    // The streams opened last on each gateway, watching every trainer: one per gateway (broadcast)
    // or one per room and gateway (rooms: a room's moves reach only its streams), so that each
    // move is seen at the last-opened stream of every gateway. `tail-<k>`: gateway k ÷ perGateway,
    // room k mod ROOMS (the joins below read the room from the id's number).
    const tailsPerGateway = audience === 'rooms' ? ROOMS : 1;
    const tails: (User & { gateway: number })[] = await Promise.all(
      Array.from({ length: tailsPerGateway * gateways.length }, async (_, k) => {
        const id = `tail-${k}`;
        return { id, token: await token(id), gateway: Math.floor(k / tailsPerGateway) };
      }),
    );
    const watchers: User[] = await Promise.all(
      Array.from(
        { length: Math.max(0, CLIENTS - MOVERS * gateways.length - tails.length) },
        async (_, i) => {
          const id = `watcher-${i}`;
          return { id, token: await token(id) };
        },
      ),
    );
    if (audience === 'rooms') {
      // A trainer exists once it moved; only existing trainers join groups. Done before any
      // stream opens, so these moves cost no fan-out. The movers too: the warm-up below moves
      // each once, but on a busy machine a warm-up move may expire, and its join would fail.
      progress(`live: creating the ${movers.length + watchers.length + tails.length} trainers`);
      await commandEach(api, agent, [...movers, ...watchers, ...tails], (user) =>
        post(
          agent,
          `${api}/api/trainers/${user.id}/move`,
          { directionX: 0, directionY: 0, action: 'stop', timestamp: Date.now() },
          user.token,
        ),
      );
    }
    // Observers first: each gateway writes to its connections in opening order.
    progress(`live: opening ${MOVERS * gateways.length} observed and the other streams`);
    for (const mover of movers)
      for (const gateway of gateways) {
        const observer = new Observer(mover.id, () => undefined);
        observers.push(observer);
        await observer.open(gateway.url, mover.token);
      }
    const others = watchers.map((watcher, i) => ({
      url: gateways[i % gateways.length]!.url,
      token: watcher.token,
    }));
    const opened = new Promise<{ opened: number }>((resolve) =>
      load.once('message', (message) => resolve(message as { opened: number })),
    );
    load.send({ open: others });
    await opened;
    // Then the last-opened streams, after every other stream of their gateway.
    const lastObservers: { observer: Observer; gateway: number }[] = [];
    for (const tail of tails) {
      const observer = new Observer(undefined, () => undefined);
      observers.push(observer);
      lastObservers.push({ observer, gateway: tail.gateway });
      await observer.open(gateways[tail.gateway]!.url, tail.token);
    }
    /** Every observed stream reports to `moves` from now on. */
    const route = (moves: Moves): void => {
      for (const observer of observers) observer.onSighting = (sighting) => moves.saw(sighting);
      for (const { observer, gateway } of lastObservers)
        observer.onSighting = (sighting) => moves.sawLast(sighting, gateway);
    };

    const warmRate = Math.min(50, ...RATES);
    // Long enough for every mover to move once: a trainer's first move loads it from the event
    // store (two collection scans on FerretDB), which is start-up cost, not the rate's.
    const warmSeconds = Math.max(2, Math.ceil(movers.length / warmRate));
    progress(`live: warm-up, ${warmRate} moves/s for ${warmSeconds} s`);
    const warm = new Moves(gateways.length);
    route(warm);
    await drive(api, agent, movers, warmRate, warmSeconds, warm);
    await settle(warm, 30_000);

    const rows: LatencyRow[] = [];
    const breakdown: Row[] = [];
    const cpuRows: Row[] = [];
    const subjects = cpuSubjects(running, load.pid, servers);
    const rawLatency = rawPath(raw);
    const comparison: Row[] = [];
    const streamsPerRoom = Math.round(
      (MOVERS * gateways.length + watchers.length + tails.length) / ROOMS,
    );
    if (audience === 'rooms') {
      progress(`live: ${movers.length + watchers.length + tails.length} users join ${ROOMS} rooms`);
      await commandEach(api, agent, [...movers, ...watchers, ...tails], (user) => {
        const index = Number(user.id.split('-')[1]);
        return call(
          agent,
          'PUT',
          `${api}/api/trainers/${user.id}/groups/room-${index % ROOMS}`,
          undefined,
          user.token,
        );
      });
      // The joins are processed; the projection applies them from the bus right after. A short
      // run at a low rate lets the group read model settle before the clock starts.
      const settling = new Moves(gateways.length);
      route(settling);
      await drive(api, agent, movers, warmRate, 2, settling);
      await settle(settling, 30_000);
    }
    const who =
      audience === 'broadcast'
        ? `broadcast to ${CLIENTS} streams`
        : `rooms: each move to ${streamsPerRoom} of ${CLIENTS} streams`;
    for (const rate of RATES) {
      const run = new Moves(gateways.length);
      // Each run has its own ledger.
      route(run);
      progress(`live: ${rate} moves/s for ${SECONDS} s, ${who}`);
      // A fresh agent per run: a keep-alive socket idle since the last run may be closing on
      // the server's side (its keep-alive timeout) just as a request is written to it.
      agent.destroy();
      agent = new Agent(AGENT_OPTIONS);
      const cpu = cpuSample(subjects);
      const window = process.hrtime.bigint();
      const { refused } = await drive(api, agent, movers, rate, SECONDS, run);
      const refusals = [...refused].map(([reason, count]) => `${count} × ${reason}`).join(', ');
      await settle(run, SETTLE_MS);
      cpuRows.push(...cpuPerMove(cpu.end(), elapsedMs(window), run.all.length, `${rate}/s`));
      // From the intended send (primary: see Move.intended); the actual send's figure beside it.
      const from = (
        at: (m: Move) => bigint | undefined,
        base: (m: Move) => bigint = (m) => m.intended,
      ) => run.all.map((m) => ms(base(m), at(m))).filter((v) => v !== undefined);
      const e2e = from((m) => m.position);
      const latency = percentiles(e2e);
      const lastSeen = from((m) => m.last);
      const lastLatency = percentiles(lastSeen);
      const actual = percentiles(
        from(
          (m) => m.position,
          (m) => m.sent,
        ),
      );
      const lateness = percentiles(from((m) => m.sent));
      const a = percentiles(from((m) => m.accepted));
      const r = percentiles(from((m) => m.result));
      // A move not seen within the wait: still queued (no command.result yet either) or
      // processed without its frame reaching the stream (a loss) — the label tells which. At
      // the last-opened streams a processed move may also be one whose frame reached the first
      // client while the later gateway was still behind: counted apart.
      const unseen = (
        seen: (m: Move) => bigint | undefined,
        elsewhere?: (m: Move) => bigint | undefined,
      ) => {
        const missing = run.all.filter((m) => seen(m) === undefined);
        const processed = missing.filter((m) => m.result !== undefined).length;
        const ahead = elsewhere ? missing.filter((m) => elsewhere(m) !== undefined).length : 0;
        const aheadNote = elsewhere ? ` (${ahead} of them seen at the first client)` : '';
        return missing.length === 0
          ? ''
          : `, ${missing.length} not seen within ${SETTLE_MS / 1000} s of the last send: ${missing.length - processed} not yet processed, ${processed} processed${aheadNote}`;
      };
      if (TRACE) writeTrace(`${TRACE}-${audience}-${rate}.json`, run.all);
      const target = (p: Percentiles) =>
        `p50 ≤ 5 ms ${p.p50 <= 5 ? 'ok' : 'MISSED'}, p99 ≤ 25 ms ${p.p99 <= 25 ? 'ok' : 'MISSED'}`;
      const refusedNote = refusals ? `, refused: ${refusals}` : '';
      rows.push(
        {
          benchmark: `move → position.update at the first client (best-placed: whichever of the ${observers.length - lastObservers.length} streams opened first sees it first), from the intended send, ${rate}/s, ${who} (${e2e.length} of ${run.all.length} seen${refusedNote}${unseen((m) => m.position)})`,
          latency,
          target: target(latency),
        },
        {
          benchmark: `move → position.update at the last-opened stream of each of the ${gateways.length} gateways (the later of them), from the intended send, ${rate}/s, ${who} (${lastSeen.length} of ${run.all.length} seen${unseen(
            (m) => m.last,
            (m) => m.position,
          )})`,
          latency: lastLatency,
          target: target(lastLatency),
        },
        {
          benchmark: `move → position.update at the first client, from the actual send (the send loop's lateness left out), ${rate}/s`,
          latency: actual,
        },
        {
          benchmark: `the send loop's lateness: actual send − intended send, ${rate}/s`,
          latency: lateness,
        },
      );
      breakdown.push({
        benchmark: `${rate}/s, ${audience}: HTTP 202 / command.result at the client / position.update at the first client`,
        causeway: `${a.p50.toFixed(1)} / ${r.p50.toFixed(1)} / ${latency.p50.toFixed(1)}`,
        raw: `${a.p99.toFixed(1)} / ${r.p99.toFixed(1)} / ${latency.p99.toFixed(1)}`,
        ratio: Math.round((latency.p50 / Math.max(a.p50, 0.001)) * 100) / 100,
      });
      for (const q of ['p50', 'p99'] as const)
        comparison.push({
          benchmark: `${rate}/s, ${audience}, ${q}: our path (first client, from the intended send) vs the raw path`,
          causeway: `${latency[q].toFixed(2)} ms`,
          raw: `${rawLatency[q].toFixed(2)} ms`,
          ratio: Math.round((latency[q] / rawLatency[q]) * 100) / 100,
          target:
            q === 'p50'
              ? `≤ 5 ms ${latency.p50 <= 5 ? 'ok' : 'MISSED'}`
              : `≤ 25 ms ${latency.p99 <= 25 ? 'ok' : 'MISSED'}`,
        });
    }
    report.latency(
      `Move command → frame at the client (distributed, local servers), ${audience}: latencies from each move's intended send`,
      rows,
    );
    report.table(
      `Move latency vs the raw path, ${audience} (raw path = HTTP + 3 × Redis hop + MongoDB insert, percentiles of sums of random draws from each hop's samples; ratio = ours ÷ raw; lower is better)`,
      comparison,
    );
    report.latency(`The raw hops of the ${audience} run (each a lone round trip, system idle)`, [
      { benchmark: 'HTTP POST to a bare node:http server', latency: raw.http },
      {
        benchmark: 'Redis XADD → blocking XREAD (one bus hop; the path has 3)',
        latency: raw.redisHop,
      },
      { benchmark: 'MongoDB insertOne of a ~1 KB document (the append)', latency: raw.mongoInsert },
    ]);
    report.table(
      `Where the time goes, ${audience}: intended send → HTTP 202 / → command.result frame / → position.update frame (all ours; no raw client here)`,
      breakdown,
      { causeway: 'p50 ms', raw: 'p99 ms', ratio: 'position ÷ 202 at p50' },
    );
    report.table(
      `CPU per move, ${audience}: each process's CPU time (user + system) from the first send until every move was seen, ÷ moves, against the machine's capacity per move in that time (all ${availableParallelism()} cores × the window ÷ moves); the total's share near 1 means saturated`,
      cpuRows,
      { causeway: 'CPU per move', raw: 'machine capacity per move', ratio: 'share' },
    );
    report.note(
      `command-api, ${TRAINER_SERVICES} × trainer-service, projection-worker, 2 × sse-gateway as processes (launcher); ${CLIENTS} streams, ` +
        `half on each gateway: ${MOVERS * 2} observed (one per mover per gateway, opened first) and ${tails.length} last-opened ` +
        `(watching every trainer, opened after all others) in this process, the rest drained by raw sockets in a child process. Audience: ${audience === 'rooms' ? `rooms (every user joins one of ${ROOMS} groups: a move reaches its room's ${streamsPerRoom} streams)` : 'broadcast (trainers in no group, every move to every stream)'}, ` +
        `on a system and database of its own. ` +
        `Latencies count from each move's intended send (its slot in the fixed-rate schedule), so a late send loop counts against us. ` +
        `Raw path = HTTP + 3 × Redis hop + MongoDB insert: percentiles of 100 000 sums of one random sample of each hop ` +
        `(not the sum of the hops' percentiles, which bounds the path's p99 from above).`,
    );
  } finally {
    for (const observer of observers) observer.close();
    agent.destroy();
    load.disconnect();
    await stopSystem(running, 5_000);
    await cleanUp(servers, ns.id, ns.database).catch((error: unknown) =>
      progress(`live: clean-up failed: ${(error as Error).message}`),
    );
  }
}

/** The processes whose CPU a move costs: each app (instances summed), the servers, the load. */
function cpuSubjects(
  running: readonly RunningInstance[],
  loadPid: number | undefined,
  servers: Servers,
): CpuSubject[] {
  const apps = new Map<string, number[]>();
  for (const instance of running)
    if (instance.child.pid !== undefined)
      apps.set(instance.app, [...(apps.get(instance.app) ?? []), instance.child.pid]);
  const port = (address: string) => Number(/:(\d+)(?:[/?,]|$)/.exec(address)?.[1]);
  return [
    ...[...apps].map(([name, pids]) => ({ name: `${name} (${pids.length})`, pids })),
    ...listenerSubject('Redis', port(servers.redisUrl)),
    ...listenerSubject('MongoDB (FerretDB)', port(servers.mongoUri)),
    ...listenerSubject('Kafka', port(servers.kafkaBrokers[0]!)),
    { name: 'load: SSE clients (child)', pids: loadPid === undefined ? [] : [loadPid] },
    { name: 'load: HTTP and observed streams (this process)', pids: [process.pid] },
  ];
}

/** One row per subject and a total: CPU ms per move, against the machine's per move. */
function cpuPerMove(
  used: Map<string, number>,
  windowMs: number,
  moves: number,
  label: string,
): Row[] {
  if (moves === 0) return [];
  const capacity = (availableParallelism() * windowMs) / moves;
  const row = (name: string, ms: number): Row => ({
    benchmark: `${label}: ${name}`,
    causeway: `${(ms / moves).toFixed(2)} ms/move`,
    raw: `${capacity.toFixed(2)} ms/move`,
    ratio: Math.round((ms / moves / capacity) * 100) / 100,
  });
  const rows = [...used].map(([name, ms]) => row(name, ms));
  rows.push(
    row(
      'all of the above',
      [...used.values()].reduce((a, b) => a + b, 0),
    ),
  );
  return rows;
}
