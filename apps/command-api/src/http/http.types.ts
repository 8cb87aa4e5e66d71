/** What command-api reads of an incoming request (Express underneath, kept out of the types). */
export interface ApiRequest {
  method: string;
  originalUrl: string;
  headers: Record<string, string | string[] | undefined>;
  /** The headers as sent, names and values alternating (node:http's): repeated ones apart. */
  rawHeaders?: string[];
  ip?: string;
  socket: { remoteAddress?: string };
  /** The mount path of the middleware handling it (Express). */
  baseUrl?: string;
  params?: Record<string, string>;
  /** Set by the body reader (command-api.body.ts). */
  commandApiBody?: ReadBody;
  /** The request's id, echoed in X-Request-Id (pino-http's `req.id`, or CommandsListener's). */
  id?: string | number;
}

/** The body as the reader found it: absent, JSON, or not JSON. */
export type ReadBody =
  | { kind: 'empty'; raw: Buffer }
  | { kind: 'json'; raw: Buffer; value: unknown }
  | { kind: 'malformed'; raw: Buffer; reason: string };

export interface ApiResponse {
  status(code: number): ApiResponse;
  setHeader(name: string, value: string): void;
  /** A Buffer: Express's `send` would add `; charset=utf-8` to the type of a string. */
  send(body: Buffer): void;
  end(): void;
}

/** An answer to write: status, optional JSON body, extra headers. */
export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  contentType?: string;
}

export function header(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export function writeAnswer(response: ApiResponse, answer: Answer): void {
  response.status(answer.status);
  for (const [name, value] of Object.entries(answer.headers ?? {})) response.setHeader(name, value);
  if (answer.body === undefined) {
    response.end();
    return;
  }
  response.setHeader('Content-Type', answer.contentType ?? 'application/json; charset=utf-8');
  // The same Content-Type in front of Express and behind it (where a string would get a charset).
  response.send(Buffer.from(JSON.stringify(answer.body)));
}
