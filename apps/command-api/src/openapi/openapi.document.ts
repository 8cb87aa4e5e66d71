import { CommandStatus, PlaceOrderRequest } from '@causeway/contracts';
import { OrderAccepted } from '../orders/order.schemas';
import { type OpenAPIObject } from '@nestjs/swagger';
import { z } from 'zod';
import {
  Accepted,
  GroupParams,
  MoveBody,
  MoveParams,
  SeedMoveParams,
  StatusParams,
} from '../commands/command.schemas';
import { DevToken, DevTokenRequest } from '../dev/dev-tokens.controller';
import { GroupBody } from '../rest/trainers.controller';
import { MAX_BATCH } from '../rpc/json-rpc.protocol';
import { PROBLEM_SCHEMA } from '@causeway/cqrs-core/nest';

type Schema = Record<string, unknown>;

/** JSON Schema 2020-12 (what OpenAPI 3.1 uses) of a zod schema, as a client sends it. */
function schema(type: z.ZodType, io: 'input' | 'output' = 'input'): Schema {
  const { $schema: _, ...rest } = z.toJSONSchema(type, { io, unrepresentable: 'any' }) as Schema;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (body: Schema) => ({ 'application/json': { schema: body } });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

const retryAfter = {
  'Retry-After': { schema: { type: 'integer' }, description: 'seconds to wait before a retry' },
};
/** A 503: a dependency is unavailable, retry after `Retry-After`. */
const unavailable = (description: string) => ({ ...problem(description), headers: retryAfter });
const commonErrors = {
  '401': {
    ...problem(
      'Missing, invalid or expired bearer token (`unauthenticated`; `reason`: `missing`, `expired` or `invalid`)',
    ),
    headers: {
      'WWW-Authenticate': {
        schema: { type: 'string' },
        description: 'Bearer realm="causeway" (RFC 6750), with error= for a bad token',
      },
    },
  },
  '413': problem('Body larger than MAX_BODY_BYTES (`body-too-large`; `maxBytes` is the limit)'),
  '415': problem(
    'Content-Type is not application/json (in UTF-8), or the body has a Content-Encoding other than identity (e.g. gzip: send it uncompressed): `unsupported-media-type`',
  ),
  '429': { ...problem('Rate limit of the caller exceeded (`rate-limited`)'), headers: retryAfter },
};
/** A 409 of the Idempotency-Key: its first request is still in flight, retry after `Retry-After`. */
const idempotencyConflict = {
  ...problem(
    'A request with this Idempotency-Key is still in flight (`idempotency-conflict`, `reason: in-flight`): retry after `Retry-After`',
  ),
  headers: retryAfter,
};
/** A 422 of an Idempotency-Key used before with another request. */
const keyReused =
  'the Idempotency-Key was used with a different request (`idempotency-key-reused`, `reason: mismatch`): use a new key';
/** What limits a JSON-RPC batch besides `maxItems`. */
const batchDescription = `A batch: one rate-limit point per call (its replay under an Idempotency-Key: one, as any replay). At most ${MAX_BATCH} calls, and no more than the server's RATE_LIMIT_POINTS (a larger batch could never be paid for): a larger one is answered with one -32600 naming the limit, running none of its calls.`;
/** Express cannot decode a path parameter (`%E0%A4%A`): a bare 400, before any route. */
const malformedPath = 'a path whose percent-escapes are malformed (`about:blank`)';
/** Every endpoint here refuses a query parameter (refuseQuery). */
const queryRefused =
  'a query parameter (`invalid-request`: the endpoint takes none; `errors` names each)';
const commandErrors = {
  '400': problem(`Malformed JSON (\`malformed-json\`), ${queryRefused}, or ${malformedPath}`),
  ...commonErrors,
  '403': problem(
    'The caller may not command this trainer (`forbidden-trainer`; `trainerId` names it, `detail` what was refused: the move, or joining or leaving the group)',
  ),
  '409': idempotencyConflict,
  '422': problem(`Invalid fields (\`invalid-fields\`); \`errors\` names each. Or ${keyReused}`),
  '503': unavailable(
    'The command could not be sent (`command-refused`), too many commands wait for their handler (`overloaded`), the Idempotency-Key could not be checked (`idempotency-unavailable`) or this instance has not read the server clock yet, just after its start (`clock-unsynchronised`): nothing was sent. Or the bus did not confirm the command (`command-unconfirmed`): it may have been sent',
  ),
};
/** The header of an answer given again for a retried Idempotency-Key. */
const replayed = {
  'Idempotent-Replayed': {
    schema: { type: 'string', enum: ['true'] },
    description: 'present when this is the first answer to the Idempotency-Key, given again',
  },
};
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Retries with the same key and request get the first answer again and send nothing; the same key with another request is a 422 (`idempotency-key-reused`), while the first is still in flight a 409. 1 to 255 visible ASCII characters (0x21-0x7E), in one header; any other value, or the header sent twice, is a 422 naming Idempotency-Key.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]{1,255}$' },
};
/** A path parameter, with the schema its endpoint validates it with (a 422 naming it else). */
const pathParam = (name: string, description: string, type: z.ZodType) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: schema(type),
});
const trainerIdParam = () =>
  pathParam('trainerId', 'a trainer the caller may move', GroupParams.shape.trainerId);
const groupIdParam = () =>
  pathParam('groupId', 'letters, digits, ".", "_", "-"', GroupParams.shape.groupId);
const commandIdParam = () =>
  pathParam('commandId', 'the commandId of an accepted answer', StatusParams.shape.commandId);

function rpcRequest(method: string, params: Schema): Schema {
  return {
    type: 'object',
    required: ['jsonrpc', 'method'],
    properties: {
      jsonrpc: { const: '2.0' },
      id: {
        type: ['string', 'integer', 'null'],
        description:
          'absent for a notification; a number with a fractional part, or an integer beyond 2^53 - 1, is -32600',
      },
      method: { const: method },
      params,
    },
  };
}

/**
 * The OpenAPI 3.1 document of command-api, from the same zod schemas that validate requests.
 * `devTokens`: whether `POST /api/dev/tokens` is served (DEV_TOKENS); without it, not listed.
 * `orders`: whether `POST /api/v2/progress/orders` is (CommandApiOptions.orders); without it,
 * not listed.
 */
export function commandApiOpenApi(
  options: { devTokens?: boolean; orders?: boolean } = {},
): OpenAPIObject {
  const accepted = {
    description: 'Accepted; processing is asynchronous (see GET /api/commands/{commandId})',
    content: json(ref('Accepted')),
    headers: replayed,
  };
  const rpcAnswer = {
    '200': {
      description: 'JSON-RPC response(s); errors of single calls are JSON-RPC errors',
      content: json({
        oneOf: [ref('JsonRpcResponse'), { type: 'array', items: ref('JsonRpcResponse') }],
      }),
      headers: replayed,
    },
    '204': { description: 'Only notifications were sent: nothing to answer' },
    // A body that is not JSON is a -32700 in a 200; the request's query is refused as HTTP.
    '400': problem(`The request has ${queryRefused}`),
    ...commonErrors,
    '409': idempotencyConflict,
    '422': problem(
      `Malformed Idempotency-Key (\`invalid-fields\`: must be 1 to 255 visible ASCII characters); \`errors\` names it. Or ${keyReused}`,
    ),
    '503': unavailable(
      'The Idempotency-Key could not be checked (`idempotency-unavailable`), or this instance has not read the server clock yet, just after its start, to stamp it (`clock-unsynchronised`): nothing was sent; retry with the same key. (Without a key, each call answers -32005 instead.)',
    ),
  };
  // The seed's path: `trainer.Move` (or `trainer.move`, as on /rpc; `method` may be left out),
  // one request or a batch of them.
  const seedMoveRequest = {
    ...rpcRequest('trainer.Move', ref('SeedMoveParams')),
    required: ['jsonrpc'],
    properties: {
      ...(rpcRequest('trainer.Move', ref('SeedMoveParams')).properties as Schema),
      method: { enum: ['trainer.Move', 'trainer.move'], description: 'default trainer.Move' },
    },
  };
  const groupBody = {
    required: false,
    description: 'Optional; `timestamp` is the client time of the action',
    content: json(ref('GroupBody')),
  };
  const document = {
    openapi: '3.1.0',
    info: {
      title: 'Causeway command API',
      version: '1.0.0',
      description:
        'Commands to trainers, answered at once with `accepted` and processed asynchronously. JSON-RPC 2.0 error codes: -32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid params (`data.errors` names the fields), -32603 internal error, -32003 not your trainer, -32004 unknown command, -32005 command bus unavailable. Authentication, rate limit and idempotency failures of /rpc are HTTP problem details (401, 429, 409 in flight, 422 `idempotency-key-reused`, 503 `idempotency-unavailable`, or 503 `clock-unsynchronised` for a keyed request just after the start).',
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        // Named apart from the gateway's `adminToken`: the embedded mode merges both documents.
        commandApiAdminToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            "ADMIN_TOKEN (not a JWT): GET /admin/commands/{commandId} reads any user's command.",
        },
      },
      schemas: {
        Accepted: schema(Accepted, 'output'),
        CommandStatus: schema(CommandStatus, 'output'),
        MoveBody: schema(MoveBody),
        MoveParams: schema(MoveParams),
        SeedMoveParams: schema(SeedMoveParams),
        GroupParams: schema(GroupParams),
        GroupBody: schema(GroupBody),
        StatusParams: schema(StatusParams),
        PlaceOrderRequest: schema(PlaceOrderRequest),
        OrderAccepted: schema(OrderAccepted, 'output'),
        DevTokenRequest: schema(DevTokenRequest),
        DevToken: schema(DevToken, 'output'),
        Problem: PROBLEM_SCHEMA,
        JsonRpcResponse: {
          type: 'object',
          required: ['jsonrpc', 'id'],
          properties: {
            jsonrpc: { const: '2.0' },
            id: { type: ['string', 'integer', 'null'] },
            result: {},
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'integer' }, message: { type: 'string' }, data: {} },
            },
          },
        },
      },
    },
    paths: {
      '/rpc': {
        post: {
          summary:
            'JSON-RPC 2.0: trainer.move, group.join, group.leave, command.status (single or batch)',
          operationId: 'rpc',
          parameters: [idempotencyKey],
          requestBody: {
            required: true,
            content: json({
              oneOf: [
                rpcRequest('trainer.move', ref('MoveParams')),
                rpcRequest('group.join', ref('GroupParams')),
                rpcRequest('group.leave', ref('GroupParams')),
                rpcRequest('command.status', ref('StatusParams')),
                {
                  type: 'array',
                  minItems: 1,
                  maxItems: MAX_BATCH,
                  description: batchDescription,
                  items: { type: 'object' },
                },
              ],
            }),
          },
          responses: rpcAnswer,
        },
      },
      '/trainer.Move': {
        post: {
          summary:
            "The seed's path: a JSON-RPC trainer.Move request; the trainer defaults to the caller's own",
          operationId: 'seedMove',
          parameters: [idempotencyKey],
          requestBody: {
            required: true,
            content: json({
              oneOf: [
                seedMoveRequest,
                {
                  type: 'array',
                  minItems: 1,
                  maxItems: MAX_BATCH,
                  description: batchDescription,
                  items: { ...seedMoveRequest, required: ['jsonrpc', 'method'] },
                },
              ],
            }),
          },
          responses: rpcAnswer,
        },
      },
      '/api/trainers/{trainerId}/move': {
        post: {
          summary: 'Start or stop moving a trainer',
          operationId: 'moveTrainer',
          parameters: [trainerIdParam(), idempotencyKey],
          requestBody: { required: true, content: json(ref('MoveBody')) },
          responses: { '202': accepted, ...commandErrors },
        },
      },
      '/api/trainers/{trainerId}/groups/{groupId}': {
        put: {
          summary: 'The trainer joins a group',
          operationId: 'joinGroup',
          parameters: [trainerIdParam(), groupIdParam(), idempotencyKey],
          requestBody: groupBody,
          responses: { '202': accepted, ...commandErrors },
        },
        delete: {
          summary: 'The trainer leaves a group',
          operationId: 'leaveGroup',
          parameters: [trainerIdParam(), groupIdParam(), idempotencyKey],
          requestBody: groupBody,
          responses: { '202': accepted, ...commandErrors },
        },
      },
      '/api/v2/progress/orders': {
        post: {
          summary: 'Place an order: its steps run asynchronously and report progress (SPEC S3)',
          description:
            'The order is for the caller (the token’s subject). Answered once Kafka acknowledged it; follow the task at `statusUrl` (order-processor) and `subscribeUrl` (sse-gateway, SSE `progress` and `recovery` events).',
          operationId: 'placeOrder',
          parameters: [idempotencyKey],
          requestBody: { required: true, content: json(ref('PlaceOrderRequest')) },
          responses: {
            '202': {
              description: 'Accepted: the order is on Kafka; `taskId` names its task',
              content: json(ref('OrderAccepted')),
              headers: replayed,
            },
            '400': problem(
              `Malformed JSON (\`malformed-json\`), ${queryRefused}, or the body is not a PlaceOrderRequest or the Idempotency-Key is malformed (\`invalid-request\`: \`errors\` names each wrong field, the body's and the key's together); nothing was published`,
            ),
            ...commonErrors,
            '409': idempotencyConflict,
            '422': problem(`A reused key: ${keyReused}`),
            '503': unavailable(
              'Kafka did not acknowledge the order in time (`order-unconfirmed`, `taskId` names the task: it may have been placed; retry with the same Idempotency-Key), the Idempotency-Key could not be checked (`idempotency-unavailable`: nothing was published), or this instance has not read the server clock yet, just after its start (`clock-unsynchronised`: nothing was published)',
            ),
          },
        },
      },
      '/api/commands/{commandId}': {
        get: {
          summary: 'What became of one of your commands',
          operationId: 'commandStatus',
          parameters: [commandIdParam()],
          responses: {
            '200': { description: 'The status', content: json(ref('CommandStatus')) },
            '400': problem(`The request has ${queryRefused}, or ${malformedPath}`),
            '401': commonErrors['401'],
            '404': problem('Unknown, expired, or another user’s command (`not-found`)'),
            '422': problem('commandId is not a UUID (`invalid-fields`); `errors` names it'),
            '429': commonErrors['429'],
            '503': unavailable('The status could not be read (`status-unavailable`): retry'),
          },
        },
      },
      '/admin/commands/{commandId}': {
        get: {
          summary: "What became of any user's command (operators: the admin token)",
          description:
            "For operators: a command id from the access log or a user's report, read without acting as the user. Served on command-api's own port, not through the demo's edge. Without the admin token: 401, counted against the client address with every admin endpoint's refusals (ADMIN_REFUSALS a minute, then 429).",
          operationId: 'adminCommandStatus',
          security: [{ commandApiAdminToken: [] }],
          parameters: [commandIdParam()],
          responses: {
            '200': { description: 'The status', content: json(ref('CommandStatus')) },
            '400': problem(`The request has ${queryRefused}, or ${malformedPath}`),
            '401': problem('No bearer token, or not the admin token (`unauthenticated`)'),
            '404': problem('Unknown or expired command (`not-found`)'),
            '422': problem('commandId is not a UUID (`invalid-fields`); `errors` names it'),
            '429': {
              ...problem(
                'The client address sent ADMIN_REFUSALS requests without the admin token (`rate-limited`)',
              ),
              headers: retryAfter,
            },
            '503': unavailable('The status could not be read (`status-unavailable`): retry'),
          },
        },
      },
      '/api/dev/tokens': {
        post: {
          summary: 'A token for any user (DEV_TOKENS=true only)',
          operationId: 'devToken',
          security: [],
          requestBody: { required: true, content: json(ref('DevTokenRequest')) },
          responses: {
            '201': { description: 'The token', content: json(ref('DevToken')) },
            '400': problem(`Malformed JSON (\`malformed-json\`), or ${queryRefused}`),
            '413': commonErrors['413'],
            '415': commonErrors['415'],
            '422': problem('Invalid fields (`invalid-fields`); `errors` names each'),
            '429': commonErrors['429'],
          },
        },
      },
    },
  };
  if (options.devTokens === false) {
    delete (document.paths as Record<string, unknown>)['/api/dev/tokens'];
    delete (document.components.schemas as Record<string, unknown>).DevTokenRequest;
    delete (document.components.schemas as Record<string, unknown>).DevToken;
  }
  if (!options.orders) {
    delete (document.paths as Record<string, unknown>)['/api/v2/progress/orders'];
    delete (document.components.schemas as Record<string, unknown>).PlaceOrderRequest;
    delete (document.components.schemas as Record<string, unknown>).OrderAccepted;
  }
  return document as unknown as OpenAPIObject;
}
