import { JsonRpcCode, type JsonRpcError, toJsonRpcError } from '../errors/error.mapping';
import { ServerClockUnsynchronisedError } from '@causeway/platform';
import { CommandBacklogError, CommandRefusedError } from '../errors/command-api.errors';

export type JsonRpcId = string | number | null;

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: JsonRpcError;
}

/** A method: receives the raw `params` (validation is the method's job) and returns the result. */
export type JsonRpcMethod = (params: unknown) => Promise<unknown>;

/** What happened to one call of a request, for metrics. */
export interface JsonRpcCall {
  method: string;
  /** `ok`, or the error code's name (`invalid-params`, `method-not-found`, …). */
  outcome: string;
}

export interface JsonRpcAnswer {
  /** Undefined when every call was a notification: nothing to answer (HTTP 204). */
  response?: JsonRpcResponse | JsonRpcResponse[];
  calls: JsonRpcCall[];
  /** False when a call failed for a transient reason (bus unavailable, internal): not replayed. */
  storable: boolean;
  /**
   * True when no call can have sent a command: each was refused for a lasting reason (invalid,
   * forbidden, unknown method…) or one saying nothing was sent (the bus refused it, a backlog,
   * the clock not read yet), or only read (`reads`). Not replayed either: as after a refused
   * REST request, a retry under the same Idempotency-Key is a new request.
   */
  sentNothing: boolean;
}

const OUTCOMES: Record<number, string> = {
  [JsonRpcCode.ParseError]: 'parse-error',
  [JsonRpcCode.InvalidRequest]: 'invalid-request',
  [JsonRpcCode.MethodNotFound]: 'method-not-found',
  [JsonRpcCode.InvalidParams]: 'invalid-params',
  [JsonRpcCode.InternalError]: 'internal-error',
  [JsonRpcCode.Forbidden]: 'forbidden',
  [JsonRpcCode.NotFound]: 'not-found',
  [JsonRpcCode.Unavailable]: 'unavailable',
};
const TRANSIENT = new Set<number>([JsonRpcCode.InternalError, JsonRpcCode.Unavailable]);

/** The answer to a body that is not JSON. */
export function parseErrorResponse(reason: string): JsonRpcResponse {
  return {
    jsonrpc: '2.0',
    id: null,
    error: { code: JsonRpcCode.ParseError, message: `Parse error: ${reason}` },
  };
}

/** Calls one batch may hold; a larger batch is refused whole (-32600), nothing of it runs. */
export const MAX_BATCH = 100;

/** The most calls a batch may hold here (at most MAX_BATCH), and why when it is fewer. */
export interface BatchLimit {
  max: number;
  /** Said in the -32600 after the limit, e.g. "when RATE_LIMIT_POINTS is 5". */
  because?: string;
}

/**
 * JSON-RPC 2.0 over one parsed HTTP body: a single request or a batch. Calls of a batch run one
 * after the other, in order (a trainer's start then stop must reach the bus in that order).
 * Notifications (a valid request without `id`) get no response entry, even on error; a malformed
 * request is answered even without an id (id null). An empty batch, or one of more than
 * `limit.max` calls (default MAX_BATCH), is an invalid request. Positional params are refused: every method takes
 * named params.
 */
export async function answerJsonRpc(
  body: unknown,
  methods: Readonly<Record<string, JsonRpcMethod>>,
  /** Methods that send no command (a status read). */
  reads: ReadonlySet<string> = new Set(),
  limit: BatchLimit = { max: MAX_BATCH },
): Promise<JsonRpcAnswer> {
  const calls: JsonRpcCall[] = [];
  let storable = true;
  let sentNothing = true;
  const one = async (request: unknown): Promise<JsonRpcResponse | undefined> => {
    const response = await answerOne(request, methods);
    const method = methodName(request);
    const code = response.response?.error?.code ?? response.errorCode;
    if (code !== undefined && TRANSIENT.has(code)) storable = false;
    // A call that ran may have sent its command unless it was refused: a lasting refusal, or a
    // transient one that says nothing was sent (the bus refused it, a backlog, no clock yet).
    // Other transient failures may come after the send (unconfirmed, internal).
    if (
      response.ran &&
      !reads.has(method) &&
      (code === undefined || (TRANSIENT.has(code) && !response.notSent))
    )
      sentNothing = false;
    const outcome =
      response.outcome ?? (code === undefined ? 'ok' : (OUTCOMES[code] ?? String(code)));
    calls.push({ method, outcome });
    return response.response;
  };
  if (Array.isArray(body)) {
    if (body.length === 0)
      return {
        response: invalidRequest(null, 'an empty batch is not a request'),
        calls: [{ method: '(batch)', outcome: 'invalid-request' }],
        storable,
        sentNothing,
      };
    if (body.length > limit.max)
      return {
        response: invalidRequest(
          null,
          `a batch holds at most ${limit.max} calls${limit.because ? ` ${limit.because}` : ''}, ` +
            `this one ${body.length}`,
        ),
        calls: [{ method: '(batch)', outcome: 'invalid-request' }],
        storable,
        sentNothing,
      };
    const responses: JsonRpcResponse[] = [];
    for (const request of body) {
      const response = await one(request);
      if (response) responses.push(response);
    }
    return {
      response: responses.length > 0 ? responses : undefined,
      calls,
      storable,
      sentNothing,
    };
  }
  const response = await one(body);
  return { response, calls, storable, sentNothing };
}

async function answerOne(
  request: unknown,
  methods: Readonly<Record<string, JsonRpcMethod>>,
): Promise<{
  response?: JsonRpcResponse;
  errorCode?: number;
  outcome?: string;
  ran?: true;
  /** The call failed saying its command was certainly not sent. */
  notSent?: true;
}> {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    return { response: invalidRequest(null, 'a request must be an object') };
  const { jsonrpc, method, params, id } = request as Record<string, unknown>;
  const isNotification = !('id' in request);
  if (!isNotification && !isId(id))
    return { response: invalidRequest(null, '"id" must be a string, a number or null') };
  // An integer past 2^53 - 1 was rounded by the parse: answered, it would name another id.
  if (typeof id === 'number' && Number.isInteger(id) && !Number.isSafeInteger(id))
    return {
      response: invalidRequest(
        null,
        '"id" is an integer beyond 2^53 - 1, which cannot be echoed exactly; send it as a string',
      ),
    };
  // JSON-RPC 2.0 §4: an id's number SHOULD NOT contain a fractional part. Refused rather than
  // echoed, as the spec does not want clients to correlate by one (1.5 was run and echoed).
  if (typeof id === 'number' && !Number.isInteger(id))
    return {
      response: invalidRequest(
        null,
        '"id" must not have a fractional part (JSON-RPC 2.0); send an integer or a string',
      ),
    };
  const validId = isNotification ? null : (id as JsonRpcId);
  // Only a valid Request object without an id is a notification: a malformed one is answered
  // (with id null when it has none), or the caller would never learn that nothing was sent.
  if (jsonrpc !== '2.0') return { response: invalidRequest(validId, '"jsonrpc" must be "2.0"') };
  if (typeof method !== 'string' || method.length === 0)
    return { response: invalidRequest(validId, '"method" must be a non-empty string') };
  if (params !== undefined && (typeof params !== 'object' || params === null))
    return { response: invalidRequest(validId, '"params" must be an object') };
  const fail = (error: JsonRpcError) => ({
    response: isNotification ? undefined : { jsonrpc: '2.0' as const, id: validId, error },
    errorCode: error.code,
  });
  const handler = Object.hasOwn(methods, method) ? methods[method] : undefined;
  if (!handler)
    return fail({
      code: JsonRpcCode.MethodNotFound,
      message: `Method not found: ${method}`,
      data: { method, methods: Object.keys(methods) },
    });
  if (Array.isArray(params))
    return fail({
      code: JsonRpcCode.InvalidParams,
      message: 'Invalid params: params must be an object of named parameters',
      data: { errors: [{ field: 'params', message: 'must be an object, not an array' }] },
    });
  try {
    const result = await handler(params ?? {});
    return {
      response: isNotification ? undefined : { jsonrpc: '2.0', id: validId, result },
      ran: true,
    };
  } catch (error) {
    // Refused for the backlog: counted as `overloaded`, as over REST, not with the bus's refusals.
    return {
      ...fail(toJsonRpcError(error)),
      ran: true,
      ...(error instanceof CommandBacklogError && { outcome: 'overloaded' }),
      ...(certainlyNotSent(error) && { notSent: true as const }),
    };
  }
}

/**
 * A transient refusal of a call that sent nothing, as over REST (where the Idempotency-Key is
 * then freed): a retry under the key is a new request, with a deadline of its own.
 */
function certainlyNotSent(error: unknown): boolean {
  return (
    error instanceof CommandRefusedError ||
    error instanceof CommandBacklogError ||
    error instanceof ServerClockUnsynchronisedError
  );
}

function invalidRequest(id: JsonRpcId, reason: string): JsonRpcResponse {
  return {
    jsonrpc: '2.0',
    id,
    error: { code: JsonRpcCode.InvalidRequest, message: `Invalid Request: ${reason}` },
  };
}

function isId(id: unknown): boolean {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

function methodName(request: unknown): string {
  const method = (request as { method?: unknown } | null)?.method;
  return typeof method === 'string' ? method : '(invalid)';
}
