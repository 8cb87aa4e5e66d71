import { type INestApplication } from '@nestjs/common';
import { ProblemException, problemType } from './problem-details.filter';

/** What bootstrapService uses of a Nest app on Express (NestExpressApplication). */
interface BodyParsingApp {
  useBodyParser(type: 'json' | 'urlencoded', options?: Record<string, unknown>): unknown;
  use(handler: (error: unknown, request: unknown, response: unknown, next: Next) => void): unknown;
}

type Next = (error?: unknown) => void;

/**
 * Nest's own body parsers (JSON; forms, `extended`), registered where Nest would (after the
 * app's setup, ahead of the routes), with what they refuse answered as the problems every app
 * names alike: a body that is not JSON is `malformed-json` (400, the parser's reason in
 * `detail`), one in a charset the parser cannot read `unsupported-media-type` (415). Nest's
 * default turns the first into a bare "Bad Request" and leaves the second untyped. Any JSON
 * text is parsed, not only objects and arrays (`null`, `42`, `"x"` reach the handler as such,
 * as in command-api): whether it is the right shape is the endpoint's call, which can name the
 * body, where the strict parser called valid JSON "not valid JSON". No body leaves
 * `request.body` undefined. The app must be created with `bodyParser: false`.
 */
export function parseBodies(app: INestApplication): void {
  const express = app as unknown as BodyParsingApp;
  express.useBodyParser('json', { strict: false });
  express.useBodyParser('urlencoded', { extended: true });
  express.use((error, _request, _response, next) => next(bodyProblem(error) ?? error));
}

/** The content codings body-parser decompresses (besides identity). */
const DECODED = 'gzip, deflate, br';

/** The problem of a body parser's refusal (http-errors with body-parser's `type`), if it is one. */
export function bodyProblem(error: unknown): ProblemException | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, message, code } = error as { type?: unknown; message?: unknown; code?: unknown };
  const reason = typeof message === 'string' ? message : undefined;
  // zlib's error (Z_DATA_ERROR, Z_BUF_ERROR; brotli's ERR__…), handed on by the parser: the
  // bytes are not in the coding the request's Content-Encoding names. Its message does not
  // always reach here (the parser may hand on "Bad Request"): its code does.
  if (typeof code === 'string' && /^(Z_|ERR__)/.test(code))
    return new ProblemException({
      type: problemType('malformed-json'),
      title: 'Malformed JSON',
      status: 400,
      detail: `the body cannot be decoded from the coding its Content-Encoding names (${code})`,
    });
  if (type === 'encoding.unsupported')
    return new ProblemException(
      {
        type: problemType('unsupported-media-type'),
        title: 'Unsupported Media Type',
        status: 415,
        detail: `the body's Content-Encoding cannot be read${reason ? `: ${reason}` : ''}; send it uncompressed, or as gzip, deflate or br`,
      },
      // RFC 9110 §12.5.3: the codings it reads.
      { headers: { 'Accept-Encoding': DECODED } },
    );
  if (type === 'entity.parse.failed')
    return new ProblemException({
      type: problemType('malformed-json'),
      title: 'Malformed JSON',
      status: 400,
      detail: `the body is not valid JSON${reason ? `: ${reason}` : ''}`,
    });
  if (type === 'charset.unsupported')
    return new ProblemException({
      type: problemType('unsupported-media-type'),
      title: 'Unsupported Media Type',
      status: 415,
      // body-parser reads JSON in any UTF (utf-8, utf-16, utf-32), forms in UTF-8 or Latin-1.
      detail: `the body's charset cannot be read${reason ? `: ${reason}` : ''}`,
    });
  return undefined;
}
