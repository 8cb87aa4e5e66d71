import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { commandApiBodyReader } from './command-api.body';
import { type ApiRequest, type ApiResponse, writeAnswer } from './http.types';

const MAX_BYTES = 1024;
const DRAIN_CAP = 1024 * 1024;

/** A real server running the reader, whose endpoint answers 200 with the body as read. */
async function readerServer(): Promise<{ server: Server; url: string }> {
  const reader = commandApiBodyReader({ maxBytes: MAX_BYTES });
  const server = createServer((req, res) => {
    const apiRequest = Object.assign(req, { originalUrl: req.url ?? '' }) as IncomingMessage &
      ApiRequest;
    const response: ApiResponse = {
      status(code) {
        res.statusCode = code;
        return this;
      },
      setHeader: (name, value) => void res.setHeader(name, value),
      send: (body) => res.end(body),
      end: () => void res.end(),
    };
    reader(apiRequest, response, () =>
      writeAnswer(response, { status: 200, body: apiRequest.commandApiBody }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Outcome {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  /** Bytes written by the client until the answer came (or it gave up). */
  sent: number;
}

/** Sends `body` in one piece. */
function send(url: string, headers: Record<string, string>, body: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/trainers/ash/move`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: text, sent: body.length }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends a body without end (chunked), until an answer comes or `giveUpMs` passed. */
function sendEndless(url: string, contentType: string, giveUpMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(`${url}/api/trainers/ash/move`, {
      method: 'POST',
      headers: { 'content-type': contentType },
    });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const timer = setInterval(() => {
      req.write(chunk);
      sent += chunk.length;
    }, 2);
    const done = (outcome: Omit<Outcome, 'sent'>) => {
      clearInterval(timer);
      clearTimeout(limit);
      req.destroy();
      resolve({ ...outcome, sent });
    };
    const limit = setTimeout(() => done({}), giveUpMs);
    req.on('response', (res) => {
      res.resume();
      done({ status: res.statusCode, headers: res.headers });
    });
    req.on('error', () => done({}));
  });
}

describe('commandApiBodyReader', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => ({ server, url } = await readerServer()));
  afterAll(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );

  it('answers a body that is not JSON with 415 before it ends, having read at most MAX_BODY_BYTES + 1 MiB', async () => {
    // Without a bound, a client without a token could make the server read for ever.
    for (const contentType of ['text/plain', 'application/octet-stream']) {
      const outcome = await sendEndless(url, contentType, 4_000);
      expect({ contentType, status: outcome.status, close: outcome.headers?.connection }).toEqual({
        contentType,
        status: 415,
        close: 'close',
      });
      // What the client wrote until the answer: the bound, plus what sockets buffer meanwhile.
      expect(outcome.sent).toBeLessThan(MAX_BYTES + DRAIN_CAP + 8 * 1024 * 1024);
    }
  });

  it('reads a chunked body of no bytes as no body, whatever its Content-Type, as Content-Length: 0', async () => {
    // A streaming client's empty body: PUT / DELETE of a group take none, and must not get a 415.
    for (const headers of <Record<string, string>[]>[
      { 'transfer-encoding': 'chunked' },
      { 'transfer-encoding': 'chunked', 'content-type': 'text/plain' },
      { 'content-length': '0' },
    ]) {
      const outcome = await send(url, headers, Buffer.alloc(0));
      expect({ headers, status: outcome.status, body: JSON.parse(outcome.body!) }).toEqual({
        headers,
        status: 200,
        body: { kind: 'empty', raw: { type: 'Buffer', data: [] } },
      });
    }
  });

  it('answers a body in a content coding it does not decode (gzip) with 415 naming it, not as malformed JSON', async () => {
    const json = JSON.stringify({ directionX: 1, directionY: 0, action: 'start' });
    const gzip = await send(
      url,
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      gzipSync(json),
    );
    expect(gzip.status).toBe(415);
    expect(gzip.headers?.['accept-encoding']).toBe('identity');
    expect(JSON.parse(gzip.body!)).toMatchObject({
      type: 'https://causeway.dev/problems/unsupported-media-type',
      detail: expect.stringContaining('"gzip"'),
    });
    // `identity`, in any case, is no coding at all: read as JSON.
    const identity = await send(
      url,
      { 'content-type': 'application/json', 'content-encoding': 'Identity' },
      Buffer.from(json),
    );
    expect(identity.status).toBe(200);
    expect(JSON.parse(identity.body!)).toMatchObject({ kind: 'json' });
  });
});
