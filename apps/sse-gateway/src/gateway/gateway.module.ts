import { type IncomingMessage, type Server } from 'node:http';
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  HttpException,
  HttpStatus,
  Logger,
  Module,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { EventBus, type HealthProbe } from '@causeway/cqrs-core';
import {
  AdminToken,
  HEALTH_PROBES,
  METRICS_REGISTRY,
  pathOf,
  UNREAD_BODIES,
  type UnreadBodies,
} from '@causeway/cqrs-core/nest';
import {
  CallerGate,
  InMemoryProgressStatuses,
  keepStarted,
  putInFront,
  REVOCATIONS_PROBE,
} from '@causeway/platform';
import { type Registry } from 'prom-client';
import { RateLimitedProblem } from '../auth/rate-limited.problem';
import { bodilessSessionRoute, SessionController } from '../auth/session.controller';
import { StreamAuthenticator } from '../auth/stream.authenticator';
import { DisconnectController, disconnectWithoutToken } from '../control/disconnect.controller';
import { type GatewayControl } from '../control/gateway-control.port';
import { GATEWAY_CONTROL } from '../control/gateway-control.token';
import { InMemoryGatewayControl } from '../control/in-memory.gateway-control';
import { PresenceController } from '../presence/presence.controller';
import { PresenceTracker } from '../presence/presence.tracker';
import { recentListPresence } from '../presence/recent-list.presence-registry';
import { EventStreamOpener } from '../sse/event-stream.opener';
import { EventsController } from '../sse/events.controller';
import { EventsListener } from '../sse/events.listener';
import { PositionsController } from '../sse/positions.controller';
import { PROGRESS_STATUSES } from '../progress/progress-statuses.token';
import { ProgressController } from '../progress/progress.controller';
import { type ConnectionListener, SseHub } from '../sse/sse.hub';
import { SseMetrics } from '../sse/sse.metrics';
import { ConnectionEventsPublisher } from './connection-events.publisher';
import { GATEWAY_OPTIONS, type GatewayModuleOptions } from './gateway.options';
import {
  checkGatewaySettings,
  DEFAULT_GATEWAY_SETTINGS,
  DEFAULT_PROGRESS_HISTORY_TTL_MS,
} from './gateway.settings';

/**
 * The gateway's GET routes (and their HEAD), as Express routes them (any case, a trailing
 * slash): GET /events, /api/positions, /api/presence, /api/v2/progress/subscribe[/{taskId}].
 */
const READ_PATH =
  /^\/(?:events|api\/positions|api\/presence|api\/v2\/progress\/subscribe(?:\/[^/]+)?)\/?$/i;

/**
 * Whether a request is a GET or HEAD of one of the gateway's routes: parseBodies (UNREAD_BODIES)
 * reads no body of it. They take none: without a credential the answer is the 401 (or 429), with
 * one the stream or the view, whatever the body. Read first, a stray body that was not JSON was
 * a 400 `malformed-json` (over 100 kB a 413) before the 401 (session 49). Node discards the
 * unread body once the answer is written.
 */
export const gatewayRead: UnreadBodies = (request) =>
  (request.method === 'GET' || request.method === 'HEAD') &&
  READ_PATH.test(pathOf(request.url) ?? '');

/**
 * How long shutdown waits for the connection events still queued (the streams it ended) to be
 * published, at most: within the app's SHUTDOWN_TIMEOUT_MS (default 10 s), beside the grace of
 * the streams whose clients do not read (MAX_LINGER_MS), which runs meanwhile.
 */
const CONNECTION_EVENTS_FLUSH_MS = 3_000;

/**
 * How long shutdown waits for what keepStarted keeps (the revocations' and the control
 * channel's subscriptions) to close, at most: one that does not answer (its server stopped
 * answering, a client without a command timeout) held the shutdown until SHUTDOWN_TIMEOUT_MS
 * killed the process, before any stream was ended or event flushed.
 */
export const KEPT_CLOSE_MS = 2_000;

/**
 * Starts the hub and presence after boot, listens to operators' orders and puts GET /events in
 * front of Express (when the app has an HTTP server). At shutdown it stops taking requests
 * first (stopAccepting), then ends every stream: their clients reconnect to another instance.
 */
@Injectable()
class GatewayLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('SseGateway');
  private starting: Promise<void> | undefined;
  /** What keepStarted keeps started (revocations, the control channel): closed at shutdown. */
  private readonly kept: { close(): Promise<void> }[] = [];
  /** The app's HTTP server, if any: it stops taking requests at shutdown. */
  private server: Server | undefined;
  /** Removes the revocations' listener: a revocation after shutdown reaches no stopped hub. */
  private stopHearingRevocations: (() => void) | undefined;

  constructor(
    @Inject(SseHub) private readonly hub: SseHub,
    @Inject(PresenceTracker) private readonly presence: PresenceTracker,
    @Inject(EventStreamOpener) private readonly opener: EventStreamOpener,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(GATEWAY_CONTROL) private readonly control: GatewayControl,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayModuleOptions,
    @Optional() @Inject(HEALTH_PROBES) private readonly probes?: HealthProbe[],
  ) {}

  onApplicationBootstrap(): void {
    const revocations = this.options.revocations;
    if (revocations) {
      // Told of every cut this instance learns of (here, from another instance, or by a
      // reload): the streams it revokes end, whether or not a disconnect order reaches here.
      this.stopHearingRevocations = revocations.onRevoked((userId, cut, reason) => {
        const closed = this.hub.revoked(userId, cut, reason);
        if (closed > 0) this.logger.log(`user ${userId} revoked: ${closed} stream(s) ended here`);
      });
      this.kept.push(
        keepStarted(REVOCATIONS_PROBE, revocations, {
          probes: this.probes,
          warn: (message) => this.logger.warn(message),
        }),
      );
    }
    // Not ready while every stream would be refused `not-ready` (the log unread at start or
    // since, shutdown under way): a load balancer then sends the clients elsewhere.
    this.probes?.push({
      name: 'sse-hub',
      check: async () => {
        const why = this.hub.notReady();
        if (why !== undefined) throw new Error(why);
      },
    });
    const adapter = this.adapterHost.httpAdapter;
    const server = adapter?.getHttpServer() as Server | undefined;
    this.server = server;
    if (server) new EventsListener(this.opener).install(server);
    // Not awaited: the app must answer /health while Redis is still unreachable.
    this.starting = this.hub
      .start()
      .catch((error: Error) => this.logger.error(`SSE hub failed to start: ${error.message}`));
    this.presence.start();
    // Retried until Redis answers (ioredis re-subscribes after a later reconnect by itself); an
    // instance that does not listen misses disconnect orders: not ready until it does.
    const control = this.control;
    let listening = false;
    this.kept.push(
      keepStarted(
        'gateway-control',
        {
          start: async () => {
            await control.listen(({ userId, reason }) => {
              const closed = this.hub.disconnect(userId, reason);
              this.logger.log(
                `disconnect order for user ${userId}: ${closed} stream(s) ended here`,
              );
            });
            listening = true;
          },
          close: () => control.close(),
          // Down again while the subscription is away (its connection lost): orders are missed.
          get ready() {
            return listening && control.listening;
          },
        },
        { probes: this.probes, warn: (message) => this.logger.warn(message) },
      ),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopHearingRevocations?.();
    // Before a stream ends: its client reconnects within SSE_RETRY_MS to SSE_RETRY_MS × 2, and
    // an EventSource answered anything but 200 (this instance's 503 `not-ready` while it
    // stops) gives up for good. Refused here, it reconnects to another instance.
    if (this.server) stopAccepting(this.server);
    if (!(await settlesWithin(Promise.all(this.kept.map((kept) => kept.close())), KEPT_CLOSE_MS)))
      this.logger.warn(
        `revocations or the control channel did not close within ${KEPT_CLOSE_MS} ms of shutdown; shutting down without them`,
      );
    this.presence.beginStop();
    await this.hub.stop();
    // Settled once the hub stopped: a start still reading the log gives way to the stop.
    await this.starting;
    // At most 3 s (DEFAULT_STOP_WAIT_MS): a registry that does not answer does not hold the
    // flush below until SHUTDOWN_TIMEOUT_MS kills the process.
    await this.presence.stop();
    // The ConnectionClosedEvents of the streams just ended. The bus is still open: Nest runs
    // beforeApplicationShutdown of global modules (CqrsCoreModule, which closes the bus's
    // publisher) after this one's.
    const events = publishers.get(this.hub);
    if (events && !(await events.flush(CONNECTION_EVENTS_FLUSH_MS)))
      this.logger.warn(
        `${events.pending} connection event(s) not published within ${CONNECTION_EVENTS_FLUSH_MS} ms of shutdown`,
      );
  }
}

/**
 * The SSE gateway as a feature module: GET /events, GET /api/v2/progress/subscribe[/{taskId}], POST /api/stream-tokens, POST|DELETE
 * /api/session, GET /api/presence, GET /api/positions, POST /api/presence/{userId}/disconnect — each
 * rate limited per caller when the options have a `rateLimiter` (the admin token's requests
 * excepted). Adapters come in through the options, so the same module
 * runs in the sse-gateway app (Redis, MongoDB) and in the embedded mode (in-memory). Uses the
 * app's metrics registry and event bus when they exist (CausewayServiceModule, CqrsCoreModule).
 */
@Module({})
export class GatewayModule {
  static forRoot(given: GatewayModuleOptions): DynamicModule {
    // GET /api/presence reads the whole registry: one read a second serves every caller.
    const options = { ...given, presence: recentListPresence(given.presence) };
    // Refused here, not only by the apps' config: the options are public (the embedded mode, a
    // bench, an app of a user's own build them).
    const settings = checkGatewaySettings({ ...DEFAULT_GATEWAY_SETTINGS, ...options.settings });
    return {
      module: GatewayModule,
      controllers: [
        EventsController,
        SessionController,
        PresenceController,
        PositionsController,
        DisconnectController,
        ProgressController,
      ],
      providers: [
        { provide: GATEWAY_OPTIONS, useValue: options },
        {
          provide: PROGRESS_STATUSES,
          useValue:
            options.progress ??
            new InMemoryProgressStatuses({ ttlMs: DEFAULT_PROGRESS_HISTORY_TTL_MS }),
        },
        { provide: GATEWAY_CONTROL, useValue: options.control ?? new InMemoryGatewayControl() },
        { provide: AdminToken, useValue: new AdminToken(options.adminToken) },
        // Bodies not read: a disconnect order's without the admin token, and those of the routes
        // that take none (a stream token, a session, the GETs): see parseBodies.
        {
          provide: UNREAD_BODIES,
          useFactory: (admin: AdminToken) => [
            disconnectWithoutToken(admin),
            bodilessSessionRoute,
            gatewayRead,
          ],
          inject: [AdminToken],
        },
        { provide: StreamAuthenticator, useValue: new StreamAuthenticator(options.tokens) },
        {
          provide: CallerGate,
          useFactory: () => {
            const logger = new Logger('SseGateway');
            return new CallerGate({
              limiter: options.rateLimiter,
              proxies: options.trustedProxies,
              limited: (retryAfterSeconds) => new RateLimitedProblem(retryAfterSeconds),
              refused: (error) =>
                error instanceof HttpException && error.getStatus() === HttpStatus.UNAUTHORIZED,
              warn: (message) => logger.warn(message),
            });
          },
        },
        {
          provide: SseMetrics,
          inject: [{ token: METRICS_REGISTRY, optional: true }],
          useFactory: (registry?: Registry) => (registry ? new SseMetrics(registry) : undefined),
        },
        {
          provide: SseHub,
          inject: [SseMetrics, { token: EventBus, optional: true }],
          useFactory: (metrics?: SseMetrics, bus?: EventBus) => {
            const logger = new Logger('SseGateway');
            const events =
              bus && options.connectionEvents !== false
                ? new ConnectionEventsPublisher(
                    bus,
                    options.serverId,
                    (message) => logger.warn(message),
                    // An Established and a Closed per local stream, and a dead instance's
                    // streams swept: what a burst with a healthy bus can queue.
                    { maxQueued: 3 * settings.maxConnections },
                  )
                : undefined;
            const presence = new PresenceTracker(
              options.presence,
              options.serverId,
              () => hub.connections(),
              (message) => logger.warn(message),
              (instance) => events?.expired(instance),
              (entries) => events?.restored(entries),
              // Through presence: not for a stream a sweep reported closed already.
              (connection, reason) => events?.closed(connection, reason),
            );
            const listeners: ConnectionListener[] = [presence, streamLog(logger)];
            if (events)
              listeners.push({ opened: (c) => events.opened(c), closed: () => undefined });
            const hub: SseHub = new SseHub({
              serverId: options.serverId,
              serverTime: options.serverTime,
              serverTimeReady: options.serverTimeReady,
              log: options.notifications,
              positions: options.positions,
              groups: options.groups,
              settings,
              metrics,
              listeners,
              logger,
            });
            trackers.set(hub, presence);
            if (events) publishers.set(hub, events);
            return hub;
          },
        },
        {
          provide: EventStreamOpener,
          inject: [SseHub, StreamAuthenticator, CallerGate],
          useFactory: (hub: SseHub, auth: StreamAuthenticator, gate: CallerGate) =>
            new EventStreamOpener(hub, auth, options.notifications, gate, options.revocations),
        },
        {
          provide: PresenceTracker,
          inject: [SseHub],
          useFactory: (hub: SseHub) => trackers.get(hub),
        },
        GatewayLifecycle,
      ],
      exports: [SseHub],
    };
  }
}

/**
 * One log line per stream, when it ends: streams opened by `EventsListener` bypass pino-http's
 * request log, and a stream's "request completed" would come only at its end anyway.
 */
function streamLog(logger: Logger): ConnectionListener {
  return {
    opened: () => undefined,
    closed: (connection, reason) =>
      logger.log(
        `stream ${connection.id} of user ${connection.userId} closed (${reason}) after ${Date.now() - connection.openedAt} ms` +
          (connection.requestId === undefined ? '' : ` (request ${connection.requestId})`),
      ),
  };
}

/**
 * Makes a stopping instance look like one that is gone, for as long as its shutdown lasts (the
 * presence registry's removal and the connection events' flush: up to ~6 s): it takes no new
 * connection (the listener closes; Node ≥ 19 also closes the idle kept-alive ones), and a
 * request that still arrives on a kept-alive connection (a stream this shutdown ended, an
 * edge's or a browser's pooled connection) is dropped unanswered when it is safe to send again
 * (GET, HEAD, OPTIONS without a body: RFC 9110 §9.2.2), which is what clients and proxies do
 * with a kept-alive connection closed before it answered — on a new connection, refused here,
 * so to another instance behind a load balancer or the edge (edge.forward), or later to this
 * one restarted. Any other request is served, with `Connection: close`: it may already have
 * acted. Nest closes the server again after the shutdown hooks (a no-op for the listener; it
 * waits for the connections left).
 */
function stopAccepting(server: Server): void {
  if (server.listening) server.close();
  putInFront(server, (req, res, next) => {
    if (SAFE_METHODS.has(req.method ?? '') && !hasBody(req)) {
      req.socket.destroy();
      return;
    }
    res.shouldKeepAlive = false;
    next();
  });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the request comes with a body (which a client may not send again). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (!!length && length !== '0');
}

/** Whether `promise` settled within `ms` (its rejection counts as settled). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The presence tracker listening to each hub (both are made in one factory). */
const trackers = new WeakMap<SseHub, PresenceTracker>();
/** The connection events publisher listening to each hub, if any: flushed at shutdown. */
const publishers = new WeakMap<SseHub, ConnectionEventsPublisher>();
