import {
  CommandState,
  MAX_TASK_ID_LENGTH,
  MAX_USER_ID_LENGTH,
  PositionUpdateParams,
  ProgressEvent,
  ProgressStatus,
} from '@causeway/contracts';
import { type OpenAPIObject } from '@nestjs/swagger';
import { SECURE_SESSION_COOKIE, SESSION_COOKIE } from '../auth/stream.authenticator';
import { RECOVERY_TASKS_MAX } from '../progress/progress.view';
import {
  openApiJson,
  openApiProblem,
  openApiRef,
  type OpenApiSchema,
  openApiSchemaOf,
  PROBLEM_SCHEMA,
} from '@causeway/cqrs-core/nest';

const epochMs = (description: string) => ({
  type: 'integer',
  description: `${description} (epoch ms)`,
});

/** The 503 of every stream route: each problem type SseHub.admit refuses a stream with. */
const STREAM_UNAVAILABLE =
  'This instance holds MAX_CONNECTIONS streams (problem type `https://causeway.dev/problems/instance-full`), is not ready (`https://causeway.dev/problems/not-ready`: starting, stopping, or it has not read its notification log for 2 heartbeat intervals, at least 10 s), or has not read the server’s clock (Redis `TIME`) yet just after its start (`https://causeway.dev/problems/clock-unsynchronised`): try again, or another instance';

const retryAfter = {
  'Retry-After': {
    description: 'seconds to wait before trying again (RETRY_AFTER_SECONDS, or the rate window)',
    schema: { type: 'integer', minimum: 1 },
  },
};
const challenge = {
  'WWW-Authenticate': {
    description:
      '`Bearer realm="causeway"` when no credential came; RFC 6750 `Bearer realm="causeway", error="invalid_token", error_description="the token expired"` (or `"the token is not valid"`) when one was refused',
    schema: { type: 'string', pattern: '^Bearer realm="causeway"' },
  },
};
const unauthorized = (description: string) =>
  openApiProblem(
    `${description}. Problem type \`https://causeway.dev/problems/unauthenticated\`; \`reason\` is \`missing\` (send a credential), \`expired\` (renew the token) or \`invalid\` (it will never pass); \`detail\` says which credential and why.`,
    challenge,
  );
const rateLimited = (who: string) =>
  openApiProblem(
    `More than RATE_LIMIT_POINTS requests of ${who} in RATE_LIMIT_WINDOW_S (problem type \`https://causeway.dev/problems/rate-limited\`); counted across the gateway's instances (in Redis; in the embedded mode, in its one process), apart from command-api's counters.`,
    retryAfter,
  );
const readFailure = (what: string) =>
  openApiProblem(
    `${what} could not be read (Redis or MongoDB unreachable): problem type \`https://causeway.dev/problems/read-unavailable\`, retry after \`Retry-After\` seconds (RETRY_AFTER_SECONDS)`,
    retryAfter,
  );

const STREAM_DESCRIPTION = `The live stream of JSON-RPC 2.0 notifications (Server-Sent Events, \`text/event-stream\`).

**Credentials** — the first of these present is the one checked (the others are ignored):
1. \`Authorization: Bearer <access token>\`;
2. \`?token=<stream token>\` from \`POST /api/stream-tokens\` (short-lived; for \`EventSource\`, which cannot send headers) — an access token there is a 401;
3. the HttpOnly session cookie set by \`POST /api/session\` (\`${SECURE_SESSION_COOKIE}\` under TLS, else \`${SESSION_COOKIE}\`; the first if both are sent).

**Frames.** Every event has an \`id:\` line — a position in the notification log all gateway instances follow, so a client resumes on any instance; it moves on with the log even when nothing is for the caller (see heartbeats below), so a quiet client's reconnect is an empty replay — and one \`data:\` line holding a JSON-RPC 2.0 notification (\`SseNotification\`, no \`id\` member):

| method | when | params |
| --- | --- | --- |
| \`session\` | first frame, with a \`retry:\` hint (SSE_RETRY_MS) | \`{connectionId, serverId, resumed: "new" \\| "replayed" \\| "recovery", replayed, serverTime, heartbeatMs}\` (\`serverTime\`: the server's epoch ms, the clock of \`startedAt\` and of frame ids; \`heartbeatMs\`: HEARTBEAT_MS) |
| \`position.update\` | a trainer the caller may see moved | \`{trainerId, x, y, isMoving, dirX, dirY, speed, startedAt, version}\` (the last three absent from moves logged before 2026-11-23) |
| \`command.result\` | a command of the caller was processed or rejected | \`{commandId, status: "processed" \\| "rejected", version?, reason?}\` |
| \`recovery\` | the gap since \`Last-Event-ID\` cannot be replayed | \`{reason: "trimmed" \\| "expired" \\| "too-many-missed" \\| "scan-limit" \\| "unknown-position", positions}\` (the current state; its id is the position the state is as of — the \`session\` frame before it repeats the client's Last-Event-ID, so a stream cut between the two is recovered again. It may exceed BUFFER_MAX_BYTES: the bound applies to what follows it) |
| \`shutdown\` | the instance is stopping; the stream ends after it (reconnect with the last id; preceded by a jittered \`retry:\` hint) | \`{serverId}\` (its id: where to resume from) |
| \`expired\` | the session of the credential ended (an access token's \`exp\`; for a stream token, the access token it was issued for); the stream ends after it: renew the token, then reconnect with the last id (the same credential gets 401 \`expired\`) | \`{expiredAt}\` (its id: where to resume from) |
| \`disconnected\` | an operator ended the user's streams (\`POST /api/presence/{userId}/disconnect\`), or revoked the user's tokens; the stream ends after it: do not reconnect by yourself | \`{reason}\` (its id: where the stream stood) |

Other lines: heartbeats every HEARTBEAT_MS: a \`:\` comment, or an \`id:\`-only event when the client's resume point moved (entries for others were logged: the id is the log position the gateway has sent the client everything up to; an EventSource following the WHATWG rules takes it as its last event id and dispatches nothing; the \`eventsource\` npm package drops it) — or, for a stream opened with \`?heartbeat=event\`, \`heartbeat\` events (\`event: heartbeat\`, the resume point as its id, \`data:\` a \`heartbeat\` notification with \`{serverTime}\`), which an EventSource hands to its \`heartbeat\` listeners and not to \`onmessage\`: a stream silent for a few \`heartbeatMs\` is dead (a frozen instance, a half-open connection), reconnect with the last id; a \`retry:\` event with the resume point as its id before the server ends a stream after CONNECTION_TIMEOUT_MS (the client reconnects with that id). A stream also ends, with an \`expired\` frame, within a second of the end of its credential's session. A client that cannot keep up (BUFFER_MAX_BYTES unwritten, or unwritten data not emptied for STALL_TIMEOUT_MS) is disconnected; it resumes like any other.

**Resume.** With \`Last-Event-ID\` (header, as \`EventSource\` sends it on reconnect; or \`?lastEventId=\`, the header winning) the missed notifications addressed to the caller are replayed in order after the \`session\` frame (\`resumed: "replayed"\`), followed by an \`id:\`-only event with the position the replay covered when that is past its last frame, then the stream goes live without gap or duplicate; beyond HISTORY_SIZE missed, a missed one older than HISTORY_TTL_MS, or a gap of more than HISTORY_SCAN_LIMIT entries in all, a \`recovery\` frame instead. A \`recovery\` frame carries positions only: \`command.result\` notifications of the gap are not in it (poll \`GET /api/commands/{commandId}\` for commands still awaited).

**Limits.** Each open costs a point of the caller's rate (RATE_LIMIT_POINTS per RATE_LIMIT_WINDOW_S; without a valid credential, of the client address: 429 comes before 401); a resume one more per 100 log entries it read, and 5 more for a recovery (charged once it is done: the next requests answer 429). MAX_CONNECTIONS_PER_USER streams per user and instance (429: a user may hold that many on each instance), MAX_CONNECTIONS per instance (503).`;

const FRAME_EXAMPLE = [
  'retry: 2000',
  'id: 1732237200000-0',
  'data: {"jsonrpc":"2.0","method":"session","params":{"connectionId":"5b0c…","serverId":"sse-gateway-1","resumed":"new","replayed":0,"serverTime":1795430000000,"heartbeatMs":30000}}',
  '',
  'id: 1732237200123-0',
  'data: {"jsonrpc":"2.0","method":"position.update","params":{"trainerId":"ash","x":12.5,"y":0,"isMoving":true,"dirX":1,"dirY":0,"speed":5,"startedAt":1732237200120,"version":7}}',
  '',
  ':',
  '',
  '',
].join('\n');

function notification(method: string, params: OpenApiSchema, description: string): OpenApiSchema {
  return {
    type: 'object',
    description,
    required: ['jsonrpc', 'method', 'params'],
    properties: { jsonrpc: { const: '2.0' }, method: { const: method }, params },
    additionalProperties: false,
  };
}

/**
 * The OpenAPI 3.1 document of the SSE gateway (served at /docs, /docs-json, /docs-yaml): every
 * route of GatewayModule with the statuses, headers and bodies it answers with, the SSE frames
 * of GET /events, and the three ways to authenticate.
 */
export function gatewayOpenApi(): OpenAPIObject {
  const trainerPosition = {
    type: 'object',
    description:
      'A trainer as the positions read model has it after its latest event, or as the newest move the notification log holds for it when the read model has not applied that move yet',
    required: [
      'trainerId',
      'x',
      'y',
      'isMoving',
      'dirX',
      'dirY',
      'speed',
      'startedAt',
      'version',
      'updatedAt',
    ],
    properties: {
      trainerId: { type: 'string' },
      x: { type: 'number' },
      y: { type: 'number' },
      isMoving: { type: 'boolean' },
      dirX: { type: 'number' },
      dirY: { type: 'number' },
      speed: { type: 'number', description: 'units per second' },
      startedAt: epochMs('when the current movement started; 0 when still'),
      version: { type: 'integer', description: "version of the trainer's stream" },
      updatedAt: epochMs('when the row was written'),
    },
  };
  const document = {
    openapi: '3.1.0',
    info: {
      title: 'Causeway SSE gateway',
      version: '1.0.0',
      description:
        'Live JSON-RPC 2.0 notifications over Server-Sent Events (`GET /events`), the credentials browsers use for them, and what a page reads before the first update (positions, presence). Errors are RFC 9457 problem documents (`application/problem+json`); every 401 carries `WWW-Authenticate`. Not documented here, as on every Causeway app: `/health`, `/health/live`, `/health/ready`, `/metrics`, `/admin/dead-letters`.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        streamToken: {
          type: 'apiKey',
          in: 'query',
          name: 'token',
          description:
            'A stream token from POST /api/stream-tokens (valid 60 s, GET /events only): EventSource cannot send an Authorization header. A stream opened with it ends when the access token it was issued for expires.',
        },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: `The HttpOnly, SameSite=Strict cookie POST /api/session sets: the access token, URL-encoded. Under TLS it is named \`${SECURE_SESSION_COOKIE}\` (Secure; read first when both are sent).`,
        },
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'ADMIN_TOKEN (not a JWT): GET /api/presence sees every user, POST /api/presence/{userId}/disconnect ends streams; not rate limited.',
        },
      },
      schemas: {
        Problem: PROBLEM_SCHEMA,
        StreamToken: {
          type: 'object',
          required: ['token', 'expiresAt'],
          properties: {
            token: { type: 'string', description: 'for `GET /events?token=` only' },
            expiresAt: epochMs(
              'when it expires: 60 s after it was issued, or when the access token it was issued for expires if that is sooner (the streams it opens end then too)',
            ),
          },
        },
        TrainerPosition: trainerPosition,
        Positions: {
          type: 'object',
          required: ['positions'],
          properties: { positions: { type: 'array', items: openApiRef('TrainerPosition') } },
        },
        Presence: {
          type: 'object',
          required: ['instances'],
          properties: {
            instances: {
              type: 'array',
              description:
                'The live gateway instances; for a user only those where a visible user is connected',
              items: {
                type: 'object',
                required: ['serverId', 'users'],
                properties: {
                  serverId: { type: 'string' },
                  users: {
                    type: 'array',
                    description: 'sorted by userId',
                    items: {
                      type: 'object',
                      required: ['userId', 'connections', 'since'],
                      properties: {
                        userId: { type: 'string' },
                        connections: { type: 'integer', minimum: 1 },
                        since: epochMs('when the oldest of these connections opened'),
                      },
                    },
                  },
                },
              },
            },
          },
        },
        SseProgressEvent: {
          ...openApiSchemaOf(ProgressEvent),
          description:
            'S3-1: one change of a task’s progress — the `data:` of a `progress` event (the params of the `progress.update` notification order-processor logs)',
        },
        SseProgressStatus: {
          ...openApiSchemaOf(ProgressStatus),
          description:
            'S3-6: a task’s current state (the fold of its events; `ACCEPTED`, 0 %, `eventCount` 0 from the order’s 202 until its first step is stored) — the `data:` of a `recovery` event',
        },
        SseFrame: {
          type: 'object',
          description:
            'One event of the stream as EventSource parses it (`event:`, `id:`, `retry:`, `data:` lines, then an empty line). Comment lines (`:`) are heartbeats, and so are events with an `id:` only (the resume point moved: no event is dispatched); with `?heartbeat=event`, so are the events named `heartbeat`.',
          required: ['data'],
          properties: {
            id: {
              type: 'string',
              pattern: '^\\d+-\\d+$',
              description:
                'A notification-log position; send it back as Last-Event-ID (or ?lastEventId=) to resume',
            },
            event: {
              const: 'heartbeat',
              description:
                'only on the heartbeats of a stream opened with `?heartbeat=event`; other events have no name (EventSource: `message`)',
            },
            retry: { type: 'integer', description: 'reconnection delay hint (ms)' },
            data: {
              type: 'string',
              contentMediaType: 'application/json',
              contentSchema: openApiRef('SseNotification'),
            },
          },
        },
        SseNotification: {
          description: 'The JSON-RPC 2.0 notification in the `data:` line of an event',
          oneOf: [
            openApiRef('SessionNotification'),
            openApiRef('PositionUpdateNotification'),
            openApiRef('CommandResultNotification'),
            openApiRef('RecoveryNotification'),
            openApiRef('ShutdownNotification'),
            openApiRef('ExpiredNotification'),
            openApiRef('DisconnectedNotification'),
            openApiRef('HeartbeatNotification'),
          ],
          discriminator: {
            propertyName: 'method',
            mapping: {
              session: '#/components/schemas/SessionNotification',
              'position.update': '#/components/schemas/PositionUpdateNotification',
              'command.result': '#/components/schemas/CommandResultNotification',
              recovery: '#/components/schemas/RecoveryNotification',
              shutdown: '#/components/schemas/ShutdownNotification',
              expired: '#/components/schemas/ExpiredNotification',
              disconnected: '#/components/schemas/DisconnectedNotification',
              heartbeat: '#/components/schemas/HeartbeatNotification',
            },
          },
        },
        SessionNotification: notification(
          'session',
          {
            type: 'object',
            required: [
              'connectionId',
              'serverId',
              'resumed',
              'replayed',
              'serverTime',
              'heartbeatMs',
            ],
            properties: {
              connectionId: { type: 'string', format: 'uuid' },
              serverId: { type: 'string', description: 'the instance serving the stream' },
              resumed: {
                enum: ['new', 'replayed', 'recovery'],
                description:
                  'new: no Last-Event-ID; replayed: the missed notifications follow; recovery: a `recovery` frame follows',
              },
              replayed: { type: 'integer', minimum: 0, description: 'frames replayed' },
              serverTime: epochMs(
                "the server's clock when the stream opened (the clock of startedAt and frame ids): place moving trainers by it, not by the client's own clock",
              ),
              heartbeatMs: {
                type: 'integer',
                minimum: 1,
                description:
                  'the stream carries a heartbeat at least this often (HEARTBEAT_MS); open it with `?heartbeat=event` to see them in an EventSource',
              },
            },
          },
          'First frame of every stream; its id is the resume point (the Last-Event-ID sent, when replayed or recovered)',
        ),
        HeartbeatNotification: notification(
          'heartbeat',
          {
            type: 'object',
            required: ['serverTime'],
            properties: { serverTime: epochMs("the server's clock when the heartbeat was sent") },
          },
          'The data of a `heartbeat` event (streams opened with `?heartbeat=event` only), every HEARTBEAT_MS; its id is where the client resumes from (the last id, or the log position the gateway has sent it everything up to)',
        ),
        PositionUpdateNotification: notification(
          'position.update',
          openApiSchemaOf(PositionUpdateParams),
          'A trainer the caller may see moved (started, stopped or changed direction)',
        ),
        CommandResultNotification: notification(
          'command.result',
          {
            type: 'object',
            required: ['commandId', 'status'],
            properties: {
              commandId: { type: 'string', format: 'uuid' },
              status: openApiSchemaOf(CommandState.extract(['processed', 'rejected'])),
              version: {
                type: 'integer',
                description: "the trainer's stream version after the command (processed only)",
              },
              reason: { type: 'string', description: 'why it was rejected (rejected only)' },
            },
          },
          "The outcome of one of the caller's commands (sent to its issuer only)",
        ),
        RecoveryNotification: notification(
          'recovery',
          {
            type: 'object',
            required: ['reason', 'positions'],
            properties: {
              reason: {
                enum: ['trimmed', 'expired', 'too-many-missed', 'scan-limit', 'unknown-position'],
                description:
                  'trimmed: older than the log; expired: a missed notification is older than HISTORY_TTL_MS; too-many-missed: more than HISTORY_SIZE for you; scan-limit: more than HISTORY_SCAN_LIMIT entries in the gap in all, whoever they were for; unknown-position: ahead of this log',
              },
              positions: {
                type: 'array',
                items: openApiRef('TrainerPosition'),
                description:
                  'the current positions the caller may see, of the trainers that moved within POSITIONS_MAX_AGE_MS (24 h)',
              },
            },
          },
          'The gap since Last-Event-ID cannot be replayed: redraw from this state. Its id is the position of the state; the `session` frame before it repeats the Last-Event-ID',
        ),
        ShutdownNotification: notification(
          'shutdown',
          {
            type: 'object',
            required: ['serverId'],
            properties: { serverId: { type: 'string' } },
          },
          'The instance is stopping and ends the stream: reconnect (after the `retry:` hint) with the last id',
        ),
        ExpiredNotification: notification(
          'expired',
          {
            type: 'object',
            required: ['expiredAt'],
            properties: {
              expiredAt: epochMs("when the credential's session ended"),
            },
          },
          'The session of the credential ended and so does the stream: renew the token, then reconnect with the last id',
        ),
        DisconnectedNotification: notification(
          'disconnected',
          {
            type: 'object',
            required: ['reason'],
            properties: {
              reason: { type: 'string', description: "the operator's reason" },
            },
          },
          "An operator ended the user's streams: do not reconnect by yourself",
        ),
        Disconnect: {
          type: 'object',
          additionalProperties: false,
          properties: {
            reason: {
              type: 'string',
              minLength: 1,
              maxLength: 200,
              description:
                'sent to the streams in their `disconnected` frame; default "disconnected by an operator"',
            },
            revoke: {
              type: 'boolean',
              description:
                "true: first revoke the user's tokens issued until now (command-api and the gateway refuse them: 401), so that the clients cannot reconnect with them",
            },
          },
        },
        DisconnectOrdered: {
          type: 'object',
          required: ['userId', 'instances'],
          properties: {
            userId: { type: 'string' },
            instances: {
              type: 'integer',
              minimum: 0,
              description:
                "the gateway instances the order reached; each ends the user's streams it holds",
            },
            revokedUntil: epochMs(
              'with `revoke`: tokens of the user issued at or before this time, or within the 60 s after it (their `iat`, in whole seconds), are refused',
            ),
          },
        },
      },
    },
    paths: {
      '/events': {
        get: {
          summary: 'The live notification stream (Server-Sent Events)',
          description: STREAM_DESCRIPTION,
          operationId: 'events',
          security: [{ bearer: [] }, { streamToken: [] }, { sessionCookie: [] }],
          parameters: [
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              description: 'The last `id:` received: resume after it (EventSource sends it itself)',
              schema: { type: 'string' },
            },
            {
              name: 'lastEventId',
              in: 'query',
              required: false,
              description: 'The same as Last-Event-ID, for a new EventSource; the header wins',
              schema: { type: 'string' },
            },
            {
              name: 'heartbeat',
              in: 'query',
              required: false,
              description:
                'How heartbeats are sent: `comment` (`:` lines, invisible to EventSource) or `event` (events named `heartbeat`, which a client can watch to notice a silent stream)',
              schema: { enum: ['comment', 'event'], default: 'comment' },
            },
          ],
          responses: {
            '200': {
              description:
                'The stream: `session` first, then live frames (see the operation description and `SseFrame`)',
              headers: {
                'Cache-Control': { schema: { type: 'string', const: 'no-cache, no-transform' } },
                'X-Accel-Buffering': { schema: { type: 'string', const: 'no' } },
              },
              content: {
                'text/event-stream': {
                  schema: {
                    type: 'string',
                    description:
                      'Events as `SseFrame` describes them; the `data:` of each is an `SseNotification`',
                    'x-event-schema': openApiRef('SseFrame'),
                  },
                  example: FRAME_EXAMPLE,
                },
              },
            },
            '204': {
              description:
                "No stream: an operator disconnected the user (`POST /api/presence/{userId}/disconnect`) less than 60 s ago, and this is an EventSource's own reconnect (it sent a `Last-Event-ID` header). An EventSource stops reconnecting on a 204; a new stream the page opens (no header) is served, after which the instance that served it answers the user's reconnects again (other instances answer 204 until the 60 s are up)",
            },
            '400': openApiProblem(
              '`token`, `lastEventId` or `heartbeat` given more than once (or not a plain value), a `heartbeat` other than `comment` or `event`, or a Last-Event-ID that is not an id of this stream; `errors` names it',
            ),
            '401': unauthorized(
              'The credential checked (the first present) is missing, invalid or expired, or of the wrong kind (an access token as `?token=`, a stream token as bearer)',
            ),
            '429': openApiProblem(
              `Rate limit of the caller exceeded (problem type \`https://causeway.dev/problems/rate-limited\`; without a valid credential counted per client address, before the 401), or the user already holds MAX_CONNECTIONS_PER_USER streams on this instance (\`https://causeway.dev/problems/user-limit\`)`,
              retryAfter,
            ),
            '503': openApiProblem(STREAM_UNAVAILABLE, retryAfter),
          },
        },
      },
      '/api/stream-tokens': {
        post: {
          summary: 'A short-lived stream token for `GET /events?token=`',
          description:
            "For EventSource, which cannot send an Authorization header. Valid 60 s, for GET /events only; it carries the access token's trainers.",
          operationId: 'streamToken',
          security: [{ bearer: [] }],
          responses: {
            '201': {
              description: 'The stream token',
              content: openApiJson(openApiRef('StreamToken')),
            },
            '401': unauthorized('No bearer access token, or an invalid or expired one'),
            '429': rateLimited('the user (or, without a valid token, of the client address)'),
          },
        },
      },
      '/api/session': {
        post: {
          summary: 'Sets the bearer access token as the HttpOnly session cookie',
          description:
            'Then GET /events, /api/positions and /api/presence authenticate by the cookie. Its Max-Age is the remaining lifetime of the token: the browser drops the cookie when the token in it stops working.',
          operationId: 'openSession',
          security: [{ bearer: [] }],
          responses: {
            '204': {
              description: 'The cookie is set',
              headers: {
                'Set-Cookie': {
                  description: `\`${SESSION_COOKIE}=<URL-encoded access token>; HttpOnly; SameSite=Strict; Path=/; Max-Age=<seconds until the token expires>\`; when the client used TLS (to the app, or to a proxy trusted with TRUST_PROXY that sent \`X-Forwarded-Proto: https\`) the cookie is \`${SECURE_SESSION_COOKIE}\`, with \`; Secure\` before \`Max-Age\` (a browser takes that name from this host over TLS only)`,
                  schema: { type: 'string' },
                },
              },
            },
            '401': unauthorized('No bearer access token, or an invalid or expired one'),
            '429': rateLimited('the user (or, without a valid token, of the client address)'),
          },
        },
        delete: {
          summary: 'Clears the session cookie (sign out of this browser)',
          description:
            'Needs no credential; counted against the client address. It does not revoke the token the cookie held: that token stays valid until it expires (a copy of it still works, and streams opened with it run on until then, or CONNECTION_TIMEOUT_MS if sooner). Keep access tokens short-lived; `POST /api/presence/{userId}/disconnect` ends open streams now.',
          operationId: 'closeSession',
          security: [],
          responses: {
            '204': {
              description: 'The cookie is cleared',
              headers: {
                'Set-Cookie': {
                  description: `\`${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0\`; under TLS both \`${SECURE_SESSION_COOKIE}\` and \`${SESSION_COOKIE}\` are cleared, each with \`; Secure\` before \`Max-Age\``,
                  schema: { type: 'string' },
                },
              },
            },
            '429': rateLimited('the client address'),
          },
        },
      },
      '/api/presence': {
        get: {
          summary: 'Who is online on which gateway instance',
          description:
            "A user (bearer access token or the session cookie; not a stream token) sees their own connections, the members of their trainers' groups and the users whose tokens let them move one of those members (`trainers` claim); the admin token sees everyone and is not rate limited. One read of the registry serves every request for a second: streams opened or closed on other instances show within that second, this instance's at once.",
          operationId: 'presence',
          security: [{ bearer: [] }, { sessionCookie: [] }, { adminToken: [] }],
          responses: {
            '200': {
              description: 'The instances and their users',
              content: openApiJson(openApiRef('Presence')),
            },
            '401': unauthorized('No access token (bearer or cookie), or an invalid or expired one'),
            '429': rateLimited('the user (or, without a valid token, of the client address)'),
            '503': readFailure('Presence or group membership'),
          },
        },
      },
      '/api/presence/{userId}/disconnect': {
        post: {
          summary:
            "Ends every stream of a user, on every gateway instance, optionally revoking the user's tokens (admin token)",
          description:
            "An operator's order, published to every instance listening on the control channel (Redis pub/sub): each ends the user's streams it holds with a `disconnected` frame. Instances not listening at that moment (restarting, cut off from Redis) do not get it. Without `revoke` it revokes nothing: a stream the page opens anew with a credential still valid is served (an EventSource's own reconnect, with a `Last-Event-ID` header, within 60 s of the order gets 204 No Content, which stops it). With `\"revoke\": true` the user's tokens issued until now are refused first (and those issued in the next 60 s, the clock difference tolerated for a token's `iat`: sign in again a minute later), by command-api and every gateway, and every gateway ends the streams they opened, whether or not the order reaches it (within a pub/sub hop; 30 s at worst for an instance cut off from Redis). A stream whose open was being checked when the order came ends at once too. Without the admin token: 401, counted against the client address like any refused credential.",
          operationId: 'disconnectUser',
          security: [{ adminToken: [] }],
          parameters: [
            {
              name: 'userId',
              in: 'path',
              required: true,
              description: `the user (a token \`sub\`), 1 to ${MAX_USER_ID_LENGTH} characters`,
              schema: { type: 'string', minLength: 1, maxLength: MAX_USER_ID_LENGTH },
            },
          ],
          requestBody: { required: false, content: openApiJson(openApiRef('Disconnect')) },
          responses: {
            '202': {
              description: 'The order was published',
              content: openApiJson(openApiRef('DisconnectOrdered')),
            },
            '400': openApiProblem(
              'A `reason` that is not a string of 1 to 200 characters, a `revoke` that is not a boolean, a field that is neither, a body that is not a JSON object, any query parameter (`?revoke=true` included: the request takes none, `reason` and `revoke` go in the body), or a `userId` over ' +
                MAX_USER_ID_LENGTH +
                ' characters (problem type `https://causeway.dev/problems/invalid-request`; `errors` names the field); or a body that is not valid JSON',
            ),
            '401': unauthorized('No bearer token, or not the admin token'),
            '409': openApiProblem(
              '`revoke` asked where tokens are not revocable (problem type `https://causeway.dev/problems/revocation-unavailable`): nothing was done',
            ),
            '413': openApiProblem(
              'A body larger than 100 kB (problem type `https://causeway.dev/problems/body-too-large`)',
            ),
            '415': openApiProblem(
              'A body that is not `application/json` (problem type `https://causeway.dev/problems/unsupported-media-type`): nothing was done',
            ),
            '429': rateLimited('the client address (requests without the admin token)'),
            '503': openApiProblem(
              'The revocation or the order could not be recorded or sent (Redis unreachable; problem type `https://causeway.dev/problems/control-unavailable`): repeat it after `Retry-After` seconds (a revocation only moves forward)',
              retryAfter,
            ),
          },
        },
      },
      '/api/positions': {
        get: {
          summary: 'The current positions the caller may see',
          description:
            "What a page draws before the first `position.update`: trainers in no group, the caller's own, and those sharing a group with the caller's trainers (the `recovery` frame's rule), among the trainers that moved within POSITIONS_MAX_AGE_MS (24 h by default, by the server's clock).",
          operationId: 'positions',
          security: [{ bearer: [] }, { sessionCookie: [] }],
          responses: {
            '200': { description: 'The positions', content: openApiJson(openApiRef('Positions')) },
            '401': unauthorized('No access token (bearer or cookie), or an invalid or expired one'),
            '429': rateLimited('the user (or, without a valid token, of the client address)'),
            '503': readFailure('The positions or group membership read model'),
          },
        },
      },
    },
  };
  Object.assign(document.paths, progressPaths());
  // HEAD of each stream route: what GET would answer, headers only; no stream is opened or
  // counted (events.controller, progress.controller).
  for (const [path, operationId] of [
    ['/events', 'eventsHead'],
    ['/api/v2/progress/subscribe', 'progressOfTasksHead'],
    ['/api/v2/progress/subscribe/{taskId}', 'progressOfTaskHead'],
  ] as const) {
    const route = (document.paths as Record<string, unknown>)[path] as {
      get: OpenApiSchema;
      head?: OpenApiSchema;
    };
    const get = route.get as { responses: Record<string, OpenApiSchema> };
    route.head = {
      ...route.get,
      summary: `The headers GET ${path} would answer with; opens no stream`,
      description:
        'Checks the credential and the limits as GET does and answers with the same status and headers, without a body: no stream is opened, none is counted against the limits or shown in presence.',
      operationId,
      responses: {
        ...get.responses,
        '200': { description: 'A stream would open', headers: get.responses['200']!.headers },
      },
    };
  }
  return document as unknown as OpenAPIObject;
}

const PROGRESS_DESCRIPTION = `The live progress of the caller's tasks (orders), as Server-Sent Events (ADR 015, SPEC S3-4/S3-5). Credentials, limits (each open is a point of the caller's rate; MAX_CONNECTIONS_PER_USER and MAX_CONNECTIONS count these streams with \`/events\`'s), heartbeats (HEARTBEAT_MS; \`?heartbeat=event\`), CONNECTION_TIMEOUT_MS, \`expired\`, \`disconnected\` and \`shutdown\` frames are those of \`GET /events\`.

**Events.**
- \`event: recovery\` — first, on every (re)connect: one per task (the caller's tasks updated within PROGRESS_HISTORY_TTL_MS, most recently updated first, at most ${RECOVERY_TASKS_MAX} — older ones are read with \`GET /api/v2/progress/user/{userId}\`, paged, and their \`progress\` events still come; or the one task), \`data:\` its \`SseProgressStatus\` — a client that was at 75 % sees 75 % at once. The first carries a \`retry:\` hint (SSE_RETRY_MS). Without any task, an \`id:\`-only event instead.
- \`event: progress\` — then, one per step of a task, \`data:\` the \`SseProgressEvent\`; one that a new stream's \`recovery\` already holds comes as an \`id:\`-only event instead (the resume point moves past it). Nothing else of the notification log reaches these streams (no moves, no command results).

Every event has an \`id:\`, a position in the notification log: with \`Last-Event-ID\` (header, or \`?lastEventId=\`) the \`progress\` events missed since it are replayed in order after the \`recovery\` events (whose id is then the client's own, so a stream cut before the replay is replayed again); beyond HISTORY_SIZE missed, one older than HISTORY_TTL_MS or a gap over HISTORY_SCAN_LIMIT entries, the \`recovery\` events alone (their id then the position they are as of). A \`recovery\` may be newer than the \`progress\` events replayed or queued after it (its status was read after the stream was registered): a client keeps the state with the greater \`currentStep\`, a finished one (\`COMPLETED\`, \`FAILED\`) over all.`;

const PROGRESS_EXAMPLE = [
  'retry: 2000',
  'event: recovery',
  'id: 1795430000000-0',
  'data: {"taskId":"3f2c…","userId":"ash","currentStep":3,"totalSteps":4,"percentage":75,"stepName":"process payment","status":"PROGRESS","startedAt":"2026-11-25T10:00:00.000Z","updatedAt":"2026-11-25T10:00:03.000Z","eventCount":4,"lastEventId":"3f2c…:3:PROGRESS"}',
  '',
  'event: progress',
  'id: 1795430001000-0',
  'data: {"eventId":"3f2c…:4:COMPLETED","taskId":"3f2c…","userId":"ash","currentStep":4,"totalSteps":4,"percentage":100,"stepName":"complete","eventType":"COMPLETED","timestamp":"2026-11-25T10:00:04.000Z"}',
  '',
  '',
].join('\n');

/** GET /api/v2/progress/subscribe and /subscribe/{taskId}: ProgressController. */
function progressPaths(): Record<string, OpenApiSchema> {
  const operation = (one: boolean): OpenApiSchema => ({
    summary: one
      ? 'The live progress of one of the caller’s tasks (Server-Sent Events)'
      : 'The live progress of all the caller’s tasks (Server-Sent Events)',
    description: PROGRESS_DESCRIPTION,
    operationId: one ? 'progressOfTask' : 'progressOfTasks',
    security: [{ bearer: [] }, { streamToken: [] }, { sessionCookie: [] }],
    parameters: [
      ...(one
        ? [
            {
              name: 'taskId',
              in: 'path',
              required: true,
              description: 'the task (the `taskId` of `POST /api/v2/progress/orders`)',
              schema: { type: 'string', minLength: 1, maxLength: MAX_TASK_ID_LENGTH },
            },
          ]
        : []),
      {
        name: 'Last-Event-ID',
        in: 'header',
        required: false,
        description: 'The last `id:` received: replay what came after it',
        schema: { type: 'string' },
      },
      {
        name: 'lastEventId',
        in: 'query',
        required: false,
        description: 'The same as Last-Event-ID, for a new EventSource; the header wins',
        schema: { type: 'string' },
      },
      {
        name: 'heartbeat',
        in: 'query',
        required: false,
        description: 'As on `GET /events`: `comment` or `event` heartbeats',
        schema: { enum: ['comment', 'event'], default: 'comment' },
      },
    ],
    responses: {
      '200': {
        description: 'The stream: `recovery` events first, then `progress` events',
        headers: {
          'Cache-Control': { schema: { type: 'string', const: 'no-cache, no-transform' } },
          'X-Accel-Buffering': { schema: { type: 'string', const: 'no' } },
        },
        content: {
          'text/event-stream': {
            schema: {
              type: 'string',
              description:
                '`event: recovery` (data: `SseProgressStatus`) and `event: progress` (data: `SseProgressEvent`) events',
              'x-event-schemas': {
                recovery: openApiRef('SseProgressStatus'),
                progress: openApiRef('SseProgressEvent'),
              },
            },
            example: PROGRESS_EXAMPLE,
          },
        },
      },
      '204': {
        description:
          'No stream: an operator disconnected the user less than 60 s ago and this is an EventSource’s own reconnect (as on `GET /events`)',
      },
      '400': openApiProblem(
        one
          ? `\`token\`, \`lastEventId\` or \`heartbeat\` repeated or malformed, a Last-Event-ID that is not an id of this stream, or a \`taskId\` that is no task id (over ${MAX_TASK_ID_LENGTH} characters, a NUL or a lone surrogate: answered before the credential is checked, and not charged to the caller's rate); \`errors\` names it`
          : '`token`, `lastEventId` or `heartbeat` repeated or malformed, or a Last-Event-ID that is not an id of this stream; `errors` names it',
      ),
      '401': unauthorized(
        'The credential checked (the first present) is missing, invalid or expired',
      ),
      ...(one && {
        '404': openApiProblem(
          'Another user’s task (problem type `https://causeway.dev/problems/not-found`); answered before any stream opens. A task accepted but not started yet opens with its `ACCEPTED` recovery; one with no status (an order not acknowledged yet) or none any more (expired, PROGRESS_HISTORY_TTL_MS) is followed: the stream opens and shows its events when they come',
        ),
      }),
      '429': openApiProblem(
        'Rate limit of the caller exceeded (`https://causeway.dev/problems/rate-limited`), or MAX_CONNECTIONS_PER_USER streams on this instance (`https://causeway.dev/problems/user-limit`)',
        retryAfter,
      ),
      '503': openApiProblem(
        one
          ? `${STREAM_UNAVAILABLE}; or the task’s status could not be read (\`https://causeway.dev/problems/read-unavailable\`)`
          : STREAM_UNAVAILABLE,
        retryAfter,
      ),
    },
  });
  return {
    '/api/v2/progress/subscribe': { get: operation(false) },
    '/api/v2/progress/subscribe/{taskId}': { get: operation(true) },
  };
}
