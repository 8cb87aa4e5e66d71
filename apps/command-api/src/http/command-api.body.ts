import { BodyTooLargeError, UnsupportedMediaTypeError } from '../errors/command-api.errors';
import { toProblem } from '../errors/error.mapping';
import { type ApiRequest, type ApiResponse, header, writeAnswer } from './http.types';
import { problemInstance } from './problem.instance';

/** Past this many bytes beyond the limit the answer comes at once and the connection closes. */
const DRAIN_CAP = 1024 * 1024;

export interface BodyReaderOptions {
  maxBytes: number;
  /**
   * Called for every request refused here (413, 415), for metrics. The request is as the client
   * sent it: label it from a fixed set (`bodyEndpointOf`), never from its path or method.
   */
  onRefused?: (request: ApiRequest, outcome: string) => void;
}

/**
 * Express middleware for command-api's paths, mounted before Nest's own body parsers
 * (`setupCommandApi`): refuses a body that is not JSON, or that comes in a content coding
 * other than `identity` (gzip…: 415 naming it), or is larger than `maxBytes` (413). A refused
 * body is drained before its answer so that the client reads the answer, but never more than
 * `maxBytes` + DRAIN_CAP bytes of it: past that the answer comes at once, with
 * `Connection: close` (a refusal must not let a client make the server read without end).
 * Otherwise it leaves the raw bytes and the parse result on `request.commandApiBody` —
 * whether a parse error is a 400 problem or a JSON-RPC -32700 is the endpoint's call.
 */
export function commandApiBodyReader(options: BodyReaderOptions) {
  return (
    request: ApiRequest & NodeJS.ReadableStream,
    response: ApiResponse,
    next: () => void,
  ): void => {
    const refuse = (error: Error) => {
      const answer = toProblem(error);
      options.onRefused?.(request, answer.outcome);
      writeAnswer(response, {
        status: answer.status,
        body: { ...answer.problem, instance: problemInstance(request) },
        headers: answer.headers,
        contentType: 'application/problem+json',
      });
    };
    const length = Number(header(request, 'content-length') ?? '0');
    const chunked = header(request, 'transfer-encoding') !== undefined;
    if (!chunked && !(length > 0)) {
      request.commandApiBody = { kind: 'empty', raw: Buffer.alloc(0) };
      request.resume();
      next();
      return;
    }
    const contentType = header(request, 'content-type');
    const coding = unsupportedCoding(header(request, 'content-encoding'));
    // Refused whatever its bytes (415), or once they pass maxBytes (413).
    let refusal: Error | undefined = !isJson(contentType)
      ? new UnsupportedMediaTypeError(contentType)
      : coding !== undefined
        ? new UnsupportedMediaTypeError(contentType, coding)
        : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let answered = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (!refusal && size > options.maxBytes) {
        refusal = new BodyTooLargeError(options.maxBytes);
        chunks.length = 0;
      }
      if (!refusal) {
        chunks.push(chunk);
        return;
      }
      if (size > options.maxBytes + DRAIN_CAP) {
        // Answered now and the connection closed by Node once the answer is written (the
        // rest of the body is discarded until then). Destroying the request here could cut
        // the answer off, and a proxy in front would answer for us (the edge said 502).
        request.removeAllListeners('data');
        answered = true;
        response.setHeader('Connection', 'close');
        refuse(refusal);
      }
    });
    request.once('end', () => {
      if (answered) return;
      // A chunked body that came with no bytes at all is no body: nothing to refuse for its type
      // (PUT / DELETE of a group take none), as with `Content-Length: 0`.
      if (size === 0) {
        request.commandApiBody = { kind: 'empty', raw: Buffer.alloc(0) };
        return next();
      }
      if (refusal) return refuse(refusal);
      const raw = Buffer.concat(chunks);
      if (raw.length === 0) {
        request.commandApiBody = { kind: 'empty', raw };
        return next();
      }
      let text: string;
      try {
        // Fatal: bytes that are not UTF-8 are refused, not replaced by U+FFFD (an id would
        // come back other than it was sent). A leading byte order mark is dropped (RFC 8259 §8.1).
        text = UTF8.decode(raw);
      } catch {
        request.commandApiBody = { kind: 'malformed', raw, reason: 'the body is not valid UTF-8' };
        return next();
      }
      try {
        request.commandApiBody = { kind: 'json', raw, value: JSON.parse(text) };
      } catch (error) {
        request.commandApiBody = { kind: 'malformed', raw, reason: (error as Error).message };
      }
      next();
    });
  };
}

/**
 * The content coding of a `Content-Encoding` header when it is not `identity` (the reader
 * decodes none: a gzip body read as JSON would be a confusing 400 "malformed"), else undefined.
 */
function unsupportedCoding(contentEncoding: string | undefined): string | undefined {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '');
  return codings.every((coding) => coding.toLowerCase() === 'identity')
    ? undefined
    : codings.join(', ');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A JSON media type, in UTF-8: a `charset` parameter, if any, must say so (RFC 8259 §8.1). */
function isJson(contentType: string | undefined): boolean {
  const [media = '', ...parameters] = (contentType ?? '').split(';');
  const type = media.trim().toLowerCase();
  const charset = parameters
    .map((parameter) => /^\s*charset\s*=\s*"?([^"\s]*)"?\s*$/i.exec(parameter)?.[1])
    .find((value) => value !== undefined);
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) return false;
  return (
    type === 'application/json' ||
    type === 'application/json-rpc' ||
    /^application\/[a-z0-9.+-]+\+json$/.test(type)
  );
}
