import { shownValue } from '../config/shown-value';
import Redis, { type RedisOptions } from 'ioredis';
import { type Registry } from 'prom-client';
import { type ManagedConnection } from '../connections/managed-connection.port';
import { checkPositiveInteger, checkUrl } from '../connections/connection-options.check';
import { MAX_TIMER_MS } from '../config/settings.schema';
import { withoutCredentials } from '../connections/connection-target';
import { connectionMetrics } from '../metrics/connection.metrics';

export interface RedisConnectionOptions {
  url: string;
  /**
   * Where `url` came from, as an operator knows it — the setting, e.g. `REDIS_URL` —, named in
   * the error when the server cannot be reached. Default `redisConnection options.url`.
   */
  source?: string;
  /**
   * Name in health and metrics. Default `redis`. A second connection of one name in one metrics
   * registry is `redis#2` (#3 …) while the first is open: give each its own. close() removes its
   * series and gives the name back.
   */
  name?: string;
  /** How long a connection attempt may take, in ms: a positive integer. Default 5 000. */
  connectTimeoutMs?: number;
  /**
   * A command without a reply this long fails ("Command timed out"), also one queued while the
   * connection is re-established — a Redis that accepts connections but never answers would
   * otherwise hold every caller for ever. A reply that arrived in time but was not read yet,
   * because the event loop was busy past the timeout, is read before the command is failed:
   * only a reply still missing then fails it (see `readBeforeTimeout`). Default: none.
   * Connections duplicated from this client for blocking reads should turn it off
   * (`duplicate({ commandTimeout: undefined })`). A positive integer (milliseconds) up to
   * 2 147 483 647.
   */
  commandTimeoutMs?: number;
  /**
   * A connection with a command waiting for its reply that receives nothing at all from Redis
   * for this long is presumed dead, closed and connected anew, as after a drop (commands that
   * had not failed yet are sent again on the new connection, as ioredis does after a drop). A
   * network path that died without a reset (a peer gone, a NAT or load balancer that forgot
   * the connection) gives no error and no close: without this the kernel keeps such a socket for
   * about 15 minutes (hours when nothing was left unacknowledged), and every command on it times
   * out meanwhile. Redis answers every command in order, so a live connection is never silent
   * this long unless Redis itself was. An idle connection (nothing waiting) is never closed.
   * Connections duplicated for blocking reads need BLOCK on top: `blockingReadOptions`.
   * Default 10 s; 0 turns it off.
   */
  silenceTimeoutMs?: number;
  /** Upper bound of the reconnect backoff, in ms: a positive integer. Default 5 s. */
  maxReconnectDelayMs?: number;
  registry?: Registry;
  /**
   * Commands issued in the same tick of the event loop go out in one socket write (the socket is
   * corked at the first and uncorked once the tick's callbacks and promise reactions have run),
   * on this client and its duplicates. Nothing waits: a command alone in its tick is written at
   * the end of that tick, as before, at the same cost. Unlike ioredis' `enableAutoPipelining`,
   * which wraps every command in a pipeline (1.7× the CPU per command one at a time), it costs
   * nothing when there is nothing to coalesce. Default true.
   */
  coalesceWrites?: boolean;
  /** Extra ioredis options; the ones above win. */
  options?: RedisOptions;
}

/**
 * A Redis command that failed before it was written to the connection, and never will be (the
 * connection drops a failed command from its queues): it had no effect, a retry is safe. A
 * command that failed after it was written (e.g. its reply timed out) fails with ioredis' own
 * error instead — it may or may not have been executed.
 */
export class RedisCommandNotSentError extends Error {
  readonly sent = false;
  constructor(
    readonly command: string,
    cause: unknown,
  ) {
    super(
      `${(cause as Error)?.message ?? String(cause)} (${command.toUpperCase()} was not sent to Redis and never will be)`,
      { cause },
    );
    this.name = 'RedisCommandNotSentError';
  }
}

/** True when `error`, or an error in its `cause` chain, is a RedisCommandNotSentError. */
export function isRedisCommandNotSent(error: unknown): boolean {
  for (let depth = 0; depth < 10 && error instanceof Error; depth++) {
    if (error instanceof RedisCommandNotSentError || error.name === 'RedisCommandNotSentError')
      return true;
    error = error.cause;
  }
  return false;
}

/** `RedisConnectionOptions.silenceTimeoutMs` when not given. */
export const DEFAULT_SILENCE_TIMEOUT_MS = 10_000;

/**
 * Options for a connection duplicated from `client` (`client.duplicate(...)`) for blocking reads
 * that block at most `blockMs` (XREAD, XREADGROUP with BLOCK): no command timeout (BLOCK bounds
 * the read, the client's timeout would cut it), and the client's silence timeout on top of
 * `blockMs`, so that a read is allowed its BLOCK time and a dead connection is still replaced
 * (ioredis then sends the read again on the new one, unless its caller failed it meanwhile: the
 * Redis Streams subscriber does, see StreamsSubscription.readLoop).
 */
export function blockingReadOptions(client: Redis, blockMs: number): RedisOptions {
  const silence = client.options.socketTimeout;
  return {
    commandTimeout: undefined,
    socketTimeout: silence === undefined ? undefined : blockMs + silence,
  };
}

/**
 * One shared ioredis client per process. Reconnects forever with capped exponential backoff;
 * commands issued while disconnected fail after one retry instead of queueing without bound.
 * A command whose caller already got an error is never sent later (see `neverSendFailed`).
 */
export function redisConnection(options: RedisConnectionOptions): ManagedConnection<Redis> {
  checkUrl('redisConnection', 'url', options?.url, /^rediss?:\/\//, 'redis:// or rediss://');
  for (const option of ['connectTimeoutMs', 'commandTimeoutMs', 'maxReconnectDelayMs'] as const)
    checkPositiveInteger('redisConnection', option, options[option], MAX_TIMER_MS);
  const maxDelay = options.maxReconnectDelayMs ?? 5_000;
  const silenceTimeout = options.silenceTimeoutMs ?? DEFAULT_SILENCE_TIMEOUT_MS;
  if (!Number.isSafeInteger(silenceTimeout) || silenceTimeout < 0)
    throw new TypeError(
      `redisConnection: options.silenceTimeoutMs must be a whole number of milliseconds, 0 or more (0: off), got ${shownValue(options.silenceTimeoutMs)}`,
    );
  // Unique in the registry: a second connection of one name is `<name>#2` (connection). Released
  // at close, with its series.
  const metrics = connectionMetrics(options.registry).connection(options.name ?? 'redis');
  const name = metrics.name;
  const client = new Redis(options.url, {
    ...options.options,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    ...(options.commandTimeoutMs !== undefined && { commandTimeout: options.commandTimeoutMs }),
    socketTimeout: silenceTimeout > 0 ? silenceTimeout : undefined,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => {
      metrics.reconnect();
      // Jittered (from half the delay to all of it): after a Redis restart the instances, and
      // their duplicate connections, do not all come back in the same instant.
      const delay = Math.min(maxDelay, 50 * 2 ** Math.min(attempt, 10));
      return Math.round(delay / 2 + (Math.random() * delay) / 2);
    },
  });
  neverSendFailed(client);
  noStrandedDisconnectTimer(client);
  readBeforeTimeout(client);
  cheapSilenceTimer(client);
  if (options.coalesceWrites !== false) coalesceWrites(client);
  const copies = trackDuplicates(client);
  client.on('ready', () => metrics.up(true));
  client.on('end', () => metrics.up(false));
  client.on('close', () => metrics.up(false));
  // ioredis emits 'error' on every failed reconnect; without a listener Node would crash.
  // The last one is kept: a refused password must read as such, not as "not connected".
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  client.on('ready', () => (lastError = undefined));
  let opened = false;
  let closed = false;
  const refusal = () =>
    lastError && /WRONGPASS|NOAUTH|NOPERM/.test(lastError.message)
      ? new Error(`authentication refused: ${lastError.message}`)
      : undefined;
  // ioredis rejects a failed connect with a bare "Connection is closed."; the reason (ECONNREFUSED,
  // ENOTFOUND, a TLS failure...) only reaches the 'error' listener. Name the server (never the
  // password: host and port only), the option it came from, and that reason, kept as `cause`.
  const unreachable = (error: unknown): Error => {
    const reason = lastError ?? (error instanceof Error ? error : new Error(String(error)));
    return new Error(
      `cannot connect to Redis at ${serverOf(client)} (${options.source ?? 'redisConnection options.url'}): ${reason.message}`,
      { cause: reason },
    );
  };
  return {
    name,
    client,
    target: withoutCredentials(options.url),
    async open() {
      try {
        // A failed first connect leaves ioredis reconnecting by itself; then just wait for PONG.
        if (client.status === 'wait' || client.status === 'end') await client.connect();
        await client.ping();
      } catch (error) {
        throw refusal() ?? unreachable(error);
      }
      opened = true;
    },
    async check() {
      // Before open() a PING would silently connect a lazy client: report it as not connected.
      if (!opened) throw refusal() ?? new Error('not connected');
      const reply = await client.ping().catch((error: unknown) => {
        throw refusal() ?? error;
      });
      if (reply !== 'PONG') throw new Error(`unexpected PING reply ${reply}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
        else client.disconnect();
        // Connections duplicated from it that their users left open (a subscriber not closed):
        // each would keep the process alive.
        for (const copy of copies) copy.disconnect();
      } finally {
        metrics.release();
      }
    },
  };
}

/**
 * The connections duplicated from `client` (and from those) that have not ended: close() of the
 * connection ends them too, so that a user who closed the connection but not a subscriber that
 * duplicated it (for its blocking reads) still sees the process exit.
 */
function trackDuplicates(client: Redis): Set<Redis> {
  const open = new Set<Redis>();
  const track = (parent: Redis) => {
    const duplicate = parent.duplicate.bind(parent);
    parent.duplicate = (override) => {
      const copy = duplicate(override);
      noStrandedDisconnectTimer(copy);
      open.add(copy);
      copy.once('end', () => open.delete(copy));
      track(copy);
      return copy;
    };
  };
  track(client);
  return open;
}

/** ioredis internals of the connector that owns a client's socket (ioredis 5: lib/connectors). */
interface ConnectorInternals {
  stream?: { destroyed: boolean };
  disconnect(): void;
}

/**
 * Makes disconnect() of `client` leave no timer behind when its socket had closed already (its
 * server unreachable, or gone and being reconnected to). ioredis ends the socket and destroys
 * it after `disconnectTimeout` (2 s) unless the socket's 'close' comes first — which had come
 * already: the timer held the process 2 s after close() (an app stopping while Redis was down,
 * or giving up its start on an unreachable REDIS_URL). A closed socket has nothing to end.
 */
function noStrandedDisconnectTimer(client: Redis): void {
  const connector = (client as unknown as { connector?: ConnectorInternals }).connector;
  if (!connector) return;
  const disconnect = connector.disconnect;
  connector.disconnect = function (this: ConnectorInternals) {
    const stream = this.stream;
    if (!stream?.destroyed) return disconnect.call(this);
    this.stream = undefined; // hidden from disconnect() only: ioredis' state stays as it was
    try {
      disconnect.call(this);
    } finally {
      this.stream ??= stream;
    }
  };
}

/** Where `client` connects: `host:port` (or its socket path), never the credentials. */
function serverOf(client: Redis): string {
  const { host, port, path } = client.options;
  if (path) return path;
  return `${host?.includes(':') ? `[${host}]` : host}:${port}`;
}

// ioredis internals used below (ioredis 5: lib/Redis.ts, lib/redis/event_handler.ts). The
// connection's tests pin this behaviour; a change in ioredis fails them rather than silently.
interface QueuedCommand {
  command: { name: string; promise: Promise<unknown>; reject(error: unknown): void };
  stream?: { isPipeline?: boolean };
}
interface CommandQueue {
  length: number;
  peekBack(): QueuedCommand | undefined;
  toArray(): QueuedCommand[];
  clear(): void;
  push(item: QueuedCommand): number;
}
interface RedisInternals {
  offlineQueue: CommandQueue;
  prevCommandQueue: CommandQueue | null;
  status: string;
  stream?: { cork(): void; uncork(): void; writable: boolean };
  sendCommand(command: QueuedCommand['command'], stream?: QueuedCommand['stream']): unknown;
  setStatus(status: string, arg?: unknown): void;
}

/** Marks a client neverSendFailed was applied to. */
const NEVER_SEND_FAILED = Symbol('causeway.neverSendFailed');

/**
 * Makes `client` (and its duplicates) never write a command whose caller already got an error.
 * Out of the box ioredis keeps a command issued while disconnected in its offline queue, and
 * one written but unanswered when the connection dropped in a resend queue; `commandTimeout` or
 * `maxRetriesPerRequest` reject the caller's promise but leave the command queued, and it is
 * written when the connection is back — a caller told "failed" retries, and the command runs
 * twice. Here, the moment the connection is ready again (before ioredis writes either queue),
 * failed commands are dropped, with the rest of their pipeline or transaction (those not failed
 * yet fail then). A command that fails before it was ever written fails with
 * RedisCommandNotSentError (it never will be); one that was written keeps ioredis' error (it
 * may have been executed). Idempotent; the subscriber applies it to its reading connections
 * whatever client it was given (a read it failed must not be written again: see
 * StreamsSubscription.readLoop).
 */
export function neverSendFailed(client: Redis): void {
  // Once per client: a duplicate of a client that has it gets it from duplicate() below.
  const marked = client as unknown as { [NEVER_SEND_FAILED]?: true };
  if (marked[NEVER_SEND_FAILED]) return;
  marked[NEVER_SEND_FAILED] = true;
  const internals = client as unknown as RedisInternals;
  const failed = new WeakSet<object>();
  const unsent = new WeakSet<object>();
  const wrapped = new WeakSet<object>();
  const sendCommand = internals.sendCommand;
  internals.sendCommand = function (this: RedisInternals, command, stream) {
    if (!wrapped.has(command)) {
      wrapped.add(command);
      const reject = command.reject;
      command.reject = (error: unknown) => {
        failed.add(command);
        reject.call(
          command,
          unsent.has(command) ? new RedisCommandNotSentError(command.name, error) : error,
        );
      };
    }
    // Dropped below, or rejected before it was sent: no socket write for it, ever.
    if (failed.has(command) && !stream?.isPipeline) return command.promise;
    unsent.add(command);
    const result = sendCommand.call(this, command, stream);
    // Written unless it was queued offline or refused on the spot ("Connection is closed").
    if (!failed.has(command) && this.offlineQueue.peekBack()?.command !== command)
      unsent.delete(command);
    return result;
  };
  const drop = (queue: CommandQueue | null, written: boolean): void => {
    if (!queue?.length) return;
    const items = queue.toArray();
    if (!items.some((item) => failed.has(item.command))) return;
    const abandoned = new Set(
      items
        .filter((item) => failed.has(item.command) && item.stream?.isPipeline)
        .map((item) => item.stream),
    );
    queue.clear();
    for (const item of items) {
      if (failed.has(item.command)) continue;
      if (item.stream && abandoned.has(item.stream)) {
        item.command.reject(
          new Error(
            `${item.command.name.toUpperCase()} was ${written ? 'not sent again' : 'not sent'}: another command of its pipeline failed`,
          ),
        );
        continue;
      }
      queue.push(item);
    }
  };
  const setStatus = internals.setStatus;
  internals.setStatus = function (this: RedisInternals, status, arg) {
    // readyHandler sets "ready" first, then writes the resend queue and the offline queue.
    if (status === 'ready') {
      drop(this.prevCommandQueue, true);
      drop(this.offlineQueue, false);
    }
    setStatus.call(this, status, arg);
  };
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    neverSendFailed(copy);
    return copy;
  };
}

/** ioredis internals of a command's timeout (ioredis 5: lib/Command.ts setTimeout, _clearTimers). */
interface TimedCommand {
  isResolved: boolean;
  _commandTimeoutTimer?: NodeJS.Timeout;
  setTimeout(ms: number): void;
  reject(error: unknown): void;
}

/**
 * Makes the command timeout (`commandTimeout`) of `client` (and its duplicates) fail a command
 * only when its reply has not arrived, rather than when it has not been read yet. ioredis'
 * timer rejects the command the moment it fires; but when the event loop was busy past the
 * timeout (a flood of requests, a long synchronous step), the timers phase that fires it runs
 * before the poll phase that reads the socket, so a reply that Redis sent in time, waiting
 * unread in the socket, lost to it: the command failed ("Command timed out") although Redis had
 * answered, and a caller that fails open on a Redis error (the rate limiter) let the request
 * through. Here the timer, when it fires, waits for a `setImmediate` — which runs after the
 * poll phase of the same turn of the loop has read what had arrived — and fails the command only
 * if it is still unanswered then. Same timer per command, same error, the same commands timed
 * (those issued while `commandTimeout` is set, also those waiting offline); a Redis that does
 * not answer still fails them after the timeout (plus that one turn of the loop).
 */
function readBeforeTimeout(client: Redis): void {
  const internals = client as unknown as RedisInternals & { options: { commandTimeout?: number } };
  const sendCommand = internals.sendCommand;
  internals.sendCommand = function (this: typeof internals, command, stream) {
    // ioredis calls command.setTimeout(commandTimeout) in sendCommand, before it writes.
    if (this.options.commandTimeout !== undefined)
      (command as unknown as TimedCommand).setTimeout = timeOutUnlessAnswered;
    return sendCommand.call(this, command, stream);
  };
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    readBeforeTimeout(copy);
    return copy;
  };
}

/** Command.setTimeout of readBeforeTimeout: the reply is read, if it came, before it fails. */
function timeOutUnlessAnswered(this: TimedCommand, ms: number): void {
  if (this._commandTimeoutTimer) return; // sent again after a reconnect: the first one counts
  const timer = setTimeout(() => {
    setImmediate(() => {
      // Answered (or failed otherwise) meanwhile: ioredis' _clearTimers removed the timer.
      if (this.isResolved || this._commandTimeoutTimer !== timer) return;
      this.reject(new Error('Command timed out'));
    });
  }, ms);
  this._commandTimeoutTimer = timer;
}

/** ioredis internals of the silence timer (ioredis 5: lib/Redis.ts sendCommand, setSocketTimeout). */
interface SilenceInternals {
  options: { socketTimeout?: number };
  stream?: NodeJS.EventEmitter & { destroy(error?: Error): void };
  commandQueue: { length: number };
  socketTimeoutTimer?: NodeJS.Timeout;
  setSocketTimeout(): void;
}

/**
 * Makes `client` (and its duplicates) keep its silence timer (`socketTimeout`) at no cost per
 * reply, and stop it when its socket closes. Same rule as ioredis': the timer runs while a
 * command waits for its reply, restarts whenever data arrives, stops once nothing waits, and
 * closes the socket when it runs out. But ioredis starts a new timer (and a `once('data')`
 * listener) for every command written while none runs, and clears it at every reply — on an
 * awaited round trip that costs about a tenth of the round trip (session 43, bench). Here one
 * listener per socket notes when data arrived, and one timer, when it fires, waits on for what
 * is left of the silence since then; while nothing waits it holds nothing (unref'd).
 * ioredis stopped the timer only when data arrived: a socket closed first (close(), a dropped
 * connection) left it running, up to silenceTimeoutMs (plus blockMs on a blocking reader) after
 * close() — the process could not exit meanwhile — and, after a reconnect, the stale timer
 * destroyed the new, healthy socket. It stops on 'close' here. And ioredis' timer, fired by an
 * event loop busy past the timeout before the socket was read, closed a connection whose data
 * had arrived: the commands it had not read the replies of were written again on the next one,
 * and Redis ran them twice. Here a timer that runs out waits one turn of the loop, so that what
 * arrived is read first (see readBeforeTimeout).
 */
function cheapSilenceTimer(client: Redis): void {
  const internals = client as unknown as SilenceInternals;
  let timer: NodeJS.Timeout | undefined;
  /** When the silence being timed began: the command written, or the last data since. */
  let since = 0;
  let listened: object | undefined;
  const fire = (socketRead = false) => {
    timer = undefined;
    if (internals.socketTimeoutTimer === undefined) return; // nothing waited any more
    const timeout = internals.options.socketTimeout ?? 0;
    const left = since + timeout - performance.now();
    if (left >= 1) {
      timer = setTimeout(fire, Math.ceil(left));
      internals.socketTimeoutTimer = timer;
      return;
    }
    if (!socketRead) {
      // Timers run before the poll phase that reads the socket: when the event loop was busy
      // past the timeout, data that arrived meanwhile is not read yet. Decide at the next turn,
      // after it was (onData moves `since`).
      timer = setTimeout(fire, 1, true);
      internals.socketTimeoutTimer = timer;
      return;
    }
    internals.socketTimeoutTimer = undefined;
    internals.stream?.destroy(
      new Error(`Socket timeout. Expecting data, but didn't receive any in ${timeout}ms.`),
    );
  };
  // After ioredis' own 'data' listener (added when the socket connected): the replies that
  // arrived are off commandQueue already.
  function onData(this: object): void {
    if (this !== internals.stream || internals.socketTimeoutTimer === undefined) return;
    if (internals.commandQueue.length > 0) {
      since = performance.now();
      return;
    }
    internals.socketTimeoutTimer = undefined;
    timer?.unref();
  }
  // Called by sendCommand when a command was written and the timer does not run.
  internals.setSocketTimeout = function (this: SilenceInternals) {
    const stream = this.stream;
    if (stream && stream !== listened) {
      listened = stream;
      stream.on('data', onData);
    }
    since = performance.now();
    if (timer === undefined) timer = setTimeout(fire, this.options.socketTimeout);
    else timer.ref(); // still pending from an earlier command: fire() waits for the rest
    this.socketTimeoutTimer = timer;
  };
  client.on('close', () => {
    clearTimeout(timer);
    timer = undefined;
    internals.socketTimeoutTimer = undefined;
  });
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    cheapSilenceTimer(copy);
    return copy;
  };
}

/**
 * Makes `client` (and its duplicates) write the commands of one tick in one socket write: the
 * first command written in a tick corks the socket, and a `process.nextTick` uncorks it, which
 * runs once the current callback and the promise reactions it queued are done — so the commands
 * that `Promise.all`, a handler's concurrent steps or several callers issue together leave in
 * one `writev` (one system call, one wake-up of Redis) instead of one write each. A command
 * alone in its tick costs one `cork`/`uncork` pair more. Pipelines and transactions (written by
 * ioredis as one buffer already) and commands queued while disconnected are left as they are.
 */
function coalesceWrites(client: Redis): void {
  const internals = client as unknown as RedisInternals;
  const sendCommand = internals.sendCommand;
  let corked: RedisInternals['stream'];
  const uncork = () => {
    const stream = corked;
    corked = undefined;
    stream?.uncork();
  };
  internals.sendCommand = function (this: RedisInternals, command, stream) {
    const socket = this.stream;
    if (corked === undefined && !stream && socket?.writable && this.status === 'ready') {
      socket.cork();
      corked = socket;
      process.nextTick(uncork);
    }
    return sendCommand.call(this, command, stream);
  };
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    coalesceWrites(copy);
    return copy;
  };
}
