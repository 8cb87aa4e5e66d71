import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Socket } from 'node:net';
import {
  ProblemException,
  problemType,
  REQUEST_ID_HEADER,
  requestIdOf,
} from '@causeway/cqrs-core/nest';
import {
  type Caller,
  CallerGate,
  invalidRequest,
  type NotificationLog,
  type RevocationCheck,
  TokenService,
  userKey,
  queryParameter,
} from '@causeway/platform';
import { RateLimitedProblem } from '../auth/rate-limited.problem';
import {
  type StreamAuthenticator,
  type StreamRequest,
  unauthorized,
} from '../auth/stream.authenticator';
import { HEARTBEAT_KINDS, type HeartbeatKind, SSE_HEADERS } from './sse.frames';
import { type SseConnection } from './sse.connection';
import { type SseHub } from './sse.hub';
import { type StreamView } from './stream.view';

/** The query parameters GET /events reads: each may appear once. */
const STREAM_PARAMETERS = ['token', 'lastEventId', 'heartbeat'] as const;

/** The answer to "may this request open a stream now?" */
export type StreamCheck =
  | {
      ok: true;
      caller: Caller;
      lastEventId: string | undefined;
      /** `?heartbeat=`: how the stream's heartbeats are sent. */
      heartbeat: HeartbeatKind;
      /** When the check began (epoch ms): a disconnect order since then ends the stream at once. */
      checkedAt: number;
    }
  | {
      ok: false;
      /** The `causeway_sse_rejected_total` label; none for a malformed request. */
      reason?: string;
      /** What the request is answered with (a ProblemException, or the unexpected error). */
      error: unknown;
      retryAfterSeconds?: number;
      /** Answered 204 No Content instead, without a body: an EventSource then stops for good. */
      noContent?: true;
    };

export type Refusal = Extract<StreamCheck, { ok: false }>;

/**
 * What GET /events does, shared by its two routes (the Nest controller and the plain node:http
 * listener in front of Express): check the credential, the Last-Event-ID and the admission,
 * then send the headers and hand the response to the hub.
 */
export class EventStreamOpener {
  /** The requests charged already (by the listener, before it handed them on to Express). */
  private readonly charged = new WeakMap<IncomingMessage, Refusal | undefined>();

  constructor(
    private readonly hub: SseHub,
    private readonly auth: StreamAuthenticator,
    private readonly notifications: Pick<NotificationLog, 'isId'>,
    private readonly gate = new CallerGate({
      limited: (retryAfterSeconds) => new RateLimitedProblem(retryAfterSeconds),
      refused: () => true,
      warn: () => undefined,
    }),
    /** The revocations the credential was checked against, checked again at registration. */
    private readonly revocations?: RevocationCheck,
  ) {}

  /**
   * Never throws: a refusal carries the error to answer with. Its admission is a first look
   * (a refusal before any replay is read): `start` admits again, in the tick it registers.
   *
   * With `message` (the request as node:http has it), an open costs the caller a point of their
   * rate (CallerGate), like any other request: a user's by user id, so that a loop of opens
   * (each a token check and, on resume, a replay read from Redis) is bounded; one without a
   * valid credential by client address, so that a reconnect storm of bad tokens is not free —
   * 429 before 401. A request is charged once on its two routes (the listener, then Express).
   */
  async check(request: StreamRequest, message?: IncomingMessage): Promise<StreamCheck> {
    const checkedAt = Date.now();
    let heartbeat: HeartbeatKind;
    try {
      // A malformed query is 400 before its credential is looked at (and no rejection reason).
      for (const name of STREAM_PARAMETERS) queryParameter(request.query, name);
      heartbeat = heartbeatKind(queryParameter(request.query, 'heartbeat'));
    } catch (error) {
      return { ok: false, error };
    }
    let caller: Caller;
    try {
      caller = await this.auth.stream(request);
    } catch (error) {
      const limited = message && (await this.charge(message, this.gate.addressKey(message)));
      return limited || { ok: false, reason: 'unauthorized', error };
    }
    const limited = message && (await this.charge(message, userKey(caller)));
    if (limited) return limited;
    let lastEventId: string | undefined;
    try {
      lastEventId = this.lastEventId(request);
    } catch (error) {
      return { ok: false, error };
    }
    // An EventSource reconnecting by itself (it sends the header) after an operator ended the
    // user's streams: 204, which ends it for good (WHATWG HTML, server-sent events: "a client
    // can be told to stop reconnecting using the HTTP 204 No Content response code"). A new
    // stream the page opens (no header; `?lastEventId=` is the page's own) is let through.
    if (
      typeof request.headers['last-event-id'] === 'string' &&
      this.hub.disconnectedRecently(caller.userId)
    )
      return { ok: false, reason: 'disconnected', noContent: true, error: undefined };
    if (lastEventId !== undefined) await this.hub.caughtUp();
    const refused = this.admit(caller.userId);
    if (refused) return refused;
    return { ok: true, caller, lastEventId, checkedAt, heartbeat };
  }

  /**
   * Admits the caller again and, if admitted, sends the headers and opens the stream; a refusal
   * is returned with nothing written (the caller answers it like one of `check`). Admission and
   * registration with the hub happen in one synchronous step: `check` admitted before its
   * awaits, and other requests' streams may have been registered since, so its admission alone
   * would let simultaneous opens past the limits. Resolves once the first frames are written
   * (undefined when the client went away first).
   */
  async start(
    req: IncomingMessage,
    res: ServerResponse,
    check: Extract<StreamCheck, { ok: true }>,
    /** What the stream shows of the log, when it is not GET /events: see StreamOpening.view. */
    view?: StreamView,
  ): Promise<Refusal | SseConnection | undefined> {
    const { caller, lastEventId, checkedAt, heartbeat } = check;
    // A request pipelined behind another on its connection (HTTP/1.1) is answered once the
    // answers before it are done: a stream behind a stream would be counted, shown in presence
    // and fed, unseen, until the first one ends. Opened when its turn comes.
    if (!res.socket && !(await turnOf(req, res))) return undefined;
    // The client may have gone while the token was verified: its 'close' has been emitted already.
    if (req.socket.destroyed) return undefined;
    // Revoked during `check`'s awaits (rate limit, catching up): refused like a revoked token.
    const cut = this.revocations?.revokedUntil(caller.userId);
    if (cut !== undefined && TokenService.revokedBy(caller.issuedAt, cut))
      return {
        ok: false,
        reason: 'unauthorized',
        error: unauthorized('token revoked: sign in again', 'invalid'),
      };
    const refused = this.admit(caller.userId);
    if (refused) return refused;
    // Every answer carries X-Request-Id; pino-http set it on the Express route, not on the
    // listener's (events.listener), which answers without Express.
    if (!res.hasHeader(REQUEST_ID_HEADER))
      res.setHeader(REQUEST_ID_HEADER, requestIdOf(req.headers));
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true);
    req.socket.setTimeout(0);
    return this.hub.open(caller, res, {
      lastEventId,
      checkedAt,
      requestId: String(res.getHeader(REQUEST_ID_HEADER)),
      heartbeat,
      view,
      // A resume reads up to HISTORY_SCAN_LIMIT entries, and a recovery the positions: the
      // user pays for them in their rate, so that a loop of resumes cannot cost more than a
      // loop of other requests. Charged after the fact: the next requests answer 429.
      resumed: ({ entries, recovery }) => {
        const points = resumePoints(entries, recovery);
        if (points > 0) void this.gate.charge(userKey(caller), points).catch(() => undefined);
      },
    });
  }

  /** The refusal when the hub's limits leave no room for one more stream of `userId`. */
  private admit(userId: string): Refusal | undefined {
    const admission = this.hub.admit(userId);
    if (admission.ok) return undefined;
    return {
      ok: false,
      reason: admission.reason,
      retryAfterSeconds: admission.retryAfterSeconds,
      error: new ProblemException({
        // The reason names the limit (not-ready, instance-full, user-limit): a
        // client tells them apart from the rate limit's `rate-limited` without reading text.
        type: problemType(admission.reason),
        title: admission.status === 503 ? 'Service Unavailable' : 'Too Many Requests',
        status: admission.status,
        detail: admission.detail,
      }),
    };
  }

  /**
   * The refusal when charging `key` goes beyond its rate. A request is charged once: on its
   * second route it gets the outcome of the first.
   */
  private async charge(message: IncomingMessage, key: string): Promise<Refusal | undefined> {
    if (this.charged.has(message)) return this.charged.get(message);
    const outcome = this.gate.charge(key).then(
      () => undefined,
      (error: unknown): Refusal =>
        error instanceof RateLimitedProblem
          ? {
              ok: false,
              reason: 'rate-limited',
              retryAfterSeconds: error.retryAfterSeconds,
              error,
            }
          : { ok: false, error },
    );
    const refusal = await outcome;
    this.charged.set(message, refusal);
    return refusal;
  }

  private lastEventId(request: StreamRequest): string | undefined {
    const header = request.headers['last-event-id'];
    const query = queryParameter(request.query, 'lastEventId');
    const value = (typeof header === 'string' && header) || query || undefined;
    if (value === undefined) return undefined;
    if (!this.notifications.isId(value))
      throw new ProblemException({
        type: problemType('invalid-request'),
        title: 'Bad Request',
        status: 400,
        detail: `Last-Event-ID "${value.slice(0, 64)}" is not an event id of this stream`,
        errors: [{ field: 'Last-Event-ID', message: 'must be an id received in an `id:` line' }],
      });
    return value;
  }
}

/** Log entries a resume reads per point of the user's rate, beyond the request's own. */
export const RESUME_ENTRIES_PER_POINT = 100;
/** Points of the user's rate a recovery costs (it reads every visible recent position). */
export const RECOVERY_POINTS = 5;

/** What a resume costs the user's rate beyond the request's point (see RESUME_ENTRIES_PER_POINT). */
export function resumePoints(entries: number, recovery: boolean): number {
  return Math.floor(entries / RESUME_ENTRIES_PER_POINT) + (recovery ? RECOVERY_POINTS : 0);
}

/**
 * How many GET /events may wait pipelined behind another answer on one connection. Browsers do
 * not pipeline; a client that queues more is cut off (its connection destroyed), as each one
 * waiting holds a request and a listener until the connection ends.
 */
export const MAX_PIPELINED_STREAMS = 4;
const waitingOn = new WeakMap<Socket, number>();

/** Resolves true once `res` has the connection to itself, false if the client goes first. */
function turnOf(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = req.socket;
    // Gone already (while `check` awaited): its 'close' was emitted, and would never come again.
    if (socket.destroyed) return resolve(false);
    const waiting = (waitingOn.get(socket) ?? 0) + 1;
    if (waiting > MAX_PIPELINED_STREAMS) {
      socket.destroy();
      return resolve(false);
    }
    waitingOn.set(socket, waiting);
    const settle = (turn: boolean) => {
      waitingOn.set(socket, (waitingOn.get(socket) ?? 1) - 1);
      resolve(turn);
    };
    const gone = () => {
      res.off('socket', mine);
      settle(false);
    };
    const mine = () => {
      socket.off('close', gone);
      settle(true);
    };
    res.once('socket', mine);
    socket.once('close', gone);
  });
}

/** `?heartbeat=`: `comment` (the default) or `event`; anything else is a 400 naming it. */
function heartbeatKind(value: string | undefined): HeartbeatKind {
  if (value === undefined || value === '') return 'comment';
  const kind = HEARTBEAT_KINDS.find((known) => known === value);
  if (kind) return kind;
  throw invalidRequest('heartbeat', `must be one of ${HEARTBEAT_KINDS.join(', ')}`);
}
