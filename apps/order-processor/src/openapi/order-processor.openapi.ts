import { MAX_TASK_ID_LENGTH, ProgressEvent, ProgressStatus } from '@causeway/contracts';
import {
  openApiJson,
  openApiProblem,
  openApiRef,
  type OpenApiSchema,
  openApiSchemaOf,
  PROBLEM_SCHEMA,
} from '@causeway/cqrs-core/nest';
import { type OpenAPIObject } from '@nestjs/swagger';
import {
  USER_TASKS_DEFAULT,
  USER_TASKS_MAX,
  USER_TASKS_PER_POINT,
} from '../progress/user-tasks.page';

const count = (description: string) => ({ type: 'integer', minimum: 0, description });

const unauthorized = openApiProblem(
  'No `Authorization: Bearer <access token>`, or one that does not verify (problem type `https://causeway.dev/problems/unauthenticated`; `reason`: `missing`, `expired` or `invalid`)',
  {
    'WWW-Authenticate': {
      description: '`Bearer realm="causeway"`, with `error="invalid_token"` when one was refused',
      schema: { type: 'string', pattern: '^Bearer realm="causeway"' },
    },
  },
);
const retryAfter = { 'Retry-After': { description: 'seconds', schema: { type: 'integer' } } };
/** As sse-gateway documents its own (ProgressAuth answers it). */
const rateLimited = openApiProblem(
  'More than RATE_LIMIT_POINTS progress reads of the caller in RATE_LIMIT_WINDOW_S — per user, or per client address without a valid token, so it comes before 401 (problem type `https://causeway.dev/problems/rate-limited`); counted across order-processor’s instances (in Redis; in the embedded mode, in its one process), apart from command-api’s and sse-gateway’s counters. Retry after `Retry-After`',
  retryAfter,
);
const notReady = openApiProblem(
  'The progress stores cannot be read: the instance is starting, or MongoDB (the event store) or Redis (the status store) is unreachable, also after the start (problem type `https://causeway.dev/problems/not-ready`; nothing says why: the instance logs it); retry after `Retry-After`',
  retryAfter,
);
/** Express cannot decode a path parameter (`%E0%A4%A`, a lone surrogate): a bare 400, before any route. */
const malformedPath =
  'a path whose percent-escapes are malformed or encode no UTF-8 text, as a lone surrogate’s (problem type `about:blank`, from the router: no `errors`)';
const invalidTaskId = openApiProblem(
  `\`taskId\` is no task id: over ${MAX_TASK_ID_LENGTH} characters, or holding a NUL (problem type \`https://causeway.dev/problems/invalid-request\`; \`errors\` names \`taskId\`: answered before the credential is checked, and not charged to the caller’s rate); or ${malformedPath}`,
);
/** The `{taskId}` parameter: contracts' TaskId. */
const taskIdParameter = {
  name: 'taskId',
  description: 'the `taskId` of `POST /api/v2/progress/orders`',
  schema: { type: 'string', minLength: 1, maxLength: MAX_TASK_ID_LENGTH },
};
const unknownTask = openApiProblem(
  'No such task of the caller: unknown, expired (PROGRESS_HISTORY_TTL_MS) or another user’s — alike, so that another user’s task is not told to exist (problem type `https://causeway.dev/problems/not-found`)',
);

function read(
  operationId: string,
  summary: string,
  description: string,
  parameter: { name: string; description: string; schema?: OpenApiSchema } | undefined,
  body: OpenApiSchema,
  errors: Record<string, unknown>,
  query: OpenApiSchema[] = [],
): OpenApiSchema {
  return {
    get: {
      operationId,
      summary,
      description,
      tags: ['progress'],
      security: [{ bearer: [] }],
      ...(parameter && {
        parameters: [
          { in: 'path', required: true, schema: { type: 'string' }, ...parameter },
          ...query,
        ],
      }),
      responses: {
        '200': { description: summary, content: openApiJson(body) },
        '401': unauthorized,
        // Every read costs the caller a point (ProgressAuth), whatever it then answers, once its
        // path and query are well-formed (a 400 of theirs is answered before the credential).
        '429': rateLimited,
        ...errors,
      },
    },
  };
}

/**
 * The OpenAPI 3.1 document of order-processor (served at /docs, /docs-json, /docs-yaml): the
 * progress reads of ADR 015 point 5 (SPEC S3-6), with the statuses and bodies they answer.
 * Orders come in through command-api (`POST /api/v2/progress/orders`), live progress through
 * the SSE gateway (`GET /api/v2/progress/subscribe`): each documents its own.
 */
export function orderProcessorOpenApi(): OpenAPIObject {
  const paths = {
    '/api/v2/progress/status/{taskId}': read(
      'progressStatus',
      'The current state of one of the caller’s tasks',
      'S3-6: the snapshot, rebuilt by replaying the task’s stored events (S3-3) — as the seed’s `ProgressSnapshot`, plus `lastEventId` and, when FAILED, `reason`. From the 202 of `POST /api/v2/progress/orders` until the first step is stored the task is `ACCEPTED` (0 %, `eventCount` 0, no `lastEventId`), never 404.',
      taskIdParameter,
      openApiRef('ProgressStatus'),
      { '400': invalidTaskId, '404': unknownTask, '503': notReady },
    ),
    '/api/v2/progress/history/{taskId}': read(
      'progressHistory',
      'The stored events of one of the caller’s tasks, in order',
      'S3-6: `{taskId, events}` — an object rather than the seed’s bare array, so that the answer names its task and can grow members without breaking clients. The events are kept PROGRESS_HISTORY_TTL_MS after the task’s latest one (S3-7). An accepted task not started yet has none.',
      taskIdParameter,
      {
        type: 'object',
        required: ['taskId', 'events'],
        properties: {
          taskId: { type: 'string' },
          events: { type: 'array', items: openApiRef('ProgressEvent') },
        },
        additionalProperties: false,
      },
      { '400': invalidTaskId, '404': unknownTask, '503': notReady },
    ),
    '/api/v2/progress/user/{userId}': read(
      'progressOfUser',
      'A page of the caller’s tasks with all their events',
      `S3-6: the caller’s tasks updated within PROGRESS_HISTORY_TTL_MS, most recently updated first (then by taskId), \`limit\` at a time (default ${USER_TASKS_DEFAULT}), each with its state and every stored event (none while ACCEPTED). While there may be more, \`next\` is the URL of the following page (a \`before\` cursor); a task updated meanwhile moves to the front, past the pages read. Only the caller’s own id is answered. A page costs a point of the caller’s rate (RATE_LIMIT_POINTS) per ${USER_TASKS_PER_POINT} tasks it lists, charged after it is answered.`,
      { name: 'userId', description: 'the caller’s own user id (the access token’s subject)' },
      {
        type: 'object',
        required: ['userId', 'tasks'],
        properties: {
          userId: { type: 'string' },
          next: {
            type: 'string',
            description:
              'The URL (path and query) of the next page; absent on the last one. It may be empty when the tasks it would hold expired meanwhile',
          },
          tasks: {
            type: 'array',
            maxItems: USER_TASKS_MAX,
            items: {
              type: 'object',
              required: ['taskId', 'status', 'events'],
              properties: {
                taskId: { type: 'string' },
                status: openApiRef('ProgressStatus'),
                events: { type: 'array', items: openApiRef('ProgressEvent') },
              },
              additionalProperties: false,
            },
          },
        },
        additionalProperties: false,
      },
      {
        '400': openApiProblem(
          `\`limit\` not an integer from 1 to the maximum, \`before\` not a \`next\` cursor of this API, either repeated, or another parameter given (problem type \`https://causeway.dev/problems/invalid-request\`; \`errors\` names each parameter, the first 10 unknown ones cut at 64 characters: answered before the credential is checked, and not charged to the caller’s rate); or ${malformedPath}`,
        ),
        '403': openApiProblem(
          'Another user’s id: only your own tasks can be read (problem type `https://causeway.dev/problems/forbidden-user`)',
        ),
        '503': notReady,
      },
      [
        {
          name: 'limit',
          in: 'query',
          required: false,
          description: `How many tasks at most (default ${USER_TASKS_DEFAULT})`,
          schema: { type: 'integer', minimum: 1, maximum: USER_TASKS_MAX },
        },
        {
          name: 'before',
          in: 'query',
          required: false,
          description:
            'The cursor of the previous page (in its `next`): list the tasks after its last one',
          schema: { type: 'string' },
        },
      ],
    ),
    '/api/v2/progress/monitor': read(
      'progressMonitor',
      'The state of the order processing',
      'S3-6: the orders this instance is running now, what it stored and handled since it started (Prometheus’ `causeway_order_steps_total` and `causeway_orders_consumed_total` have every instance’s), and the order group’s Kafka lag (shared by every instance). Any authenticated user may read it.',
      undefined,
      openApiRef('ProgressMonitor'),
      {},
    ),
  };
  const byType = {
    type: 'object',
    required: ['STARTED', 'PROGRESS', 'COMPLETED', 'FAILED'],
    properties: Object.fromEntries(
      ['STARTED', 'PROGRESS', 'COMPLETED', 'FAILED'].map((type) => [type, count(type)]),
    ),
    additionalProperties: false,
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Causeway order-processor',
      version: '1.0.0',
      description:
        'The progress reads of SPEC S3 (ADR 015): a task’s state, its history, a user’s tasks, the system’s state — each for the bearer token’s user. Errors are RFC 9457 problem documents (`application/problem+json`); every 401 carries `WWW-Authenticate`. Not documented here, as on every Causeway app: `/health`, `/health/live`, `/health/ready`, `/metrics`, `/admin/dead-letters`.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
      schemas: {
        Problem: PROBLEM_SCHEMA,
        ProgressEvent: {
          ...openApiSchemaOf(ProgressEvent),
          description: 'S3-1: one change of a task’s progress, as stored (immutable)',
        },
        ProgressStatus: {
          ...openApiSchemaOf(ProgressStatus),
          description: 'S3-6: a task’s state, the fold of its events',
        },
        ProgressMonitor: {
          type: 'object',
          required: [
            'instanceId',
            'topic',
            'consumerGroup',
            'ordersConsumed',
            'ordersCompleted',
            'ordersFailed',
            'tasksByStatus',
            'eventsStored',
            'consumerLag',
          ],
          properties: {
            instanceId: { type: 'string', description: 'INSTANCE_ID of the instance answering' },
            topic: {
              type: 'string',
              description: 'the order topic (TOPIC_PREFIX + `order-events-v2`)',
            },
            consumerGroup: { type: 'string', description: 'the order consumer group' },
            ordersConsumed: count('order deliveries handled to the end (redeliveries included)'),
            ordersCompleted: count('COMPLETED events stored'),
            ordersFailed: count('FAILED events stored'),
            tasksByStatus: {
              type: 'object',
              required: ['running', 'completed', 'failed'],
              properties: {
                running: count(
                  'orders this instance is running now (their deliveries in hand); every instance’s own',
                ),
                completed: count('tasks COMPLETED'),
                failed: count('tasks FAILED'),
              },
              additionalProperties: false,
            },
            eventsStored: { ...byType, description: 'progress events stored, by type' },
            consumerLag: {
              type: ['integer', 'null'],
              minimum: 0,
              description:
                'messages on the order topic the group has not handled; null when Kafka cannot tell (it refuses, or gives no answer within 2 s)',
            },
          },
          additionalProperties: false,
        },
      },
    },
    paths,
  } as unknown as OpenAPIObject;
}
