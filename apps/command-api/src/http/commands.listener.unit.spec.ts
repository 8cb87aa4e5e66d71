import { createServer, request, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { commandApiBodyReader } from './command-api.body';
import { commandRoute, CommandsListener } from './commands.listener';
import { writeAnswer } from './http.types';

/** A server whose own listener (standing in for Express) answers 404 "express". */
async function serverWith(log?: (line: string) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end('express');
  });
  new CommandsListener(
    [
      commandRoute('/api/trainers/{trainerId}/move', '/api/trainers', async (params, req, res) =>
        writeAnswer(res, {
          status: 202,
          body: { trainerId: params.trainerId, body: req.commandApiBody, url: req.originalUrl },
        }),
      ),
      commandRoute('/trainer.Move', '/trainer.Move', async (_params, _req, res) =>
        writeAnswer(res, { status: 200, body: { seed: true } }),
      ),
    ],
    commandApiBodyReader({ maxBytes: 64 }),
    log,
  ).install(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function call(
  url: string,
  method: string,
  body?: string,
): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: text, type: res.headers['content-type'] }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('CommandsListener', () => {
  let server: Server;
  let url: string;
  const lines: string[] = [];
  beforeAll(async () => ({ server, url } = await serverWith((line) => lines.push(line))));
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('serves a command route itself: decoded path parameters, the body as read, the answer', async () => {
    const answer = await call(`${url}/api/trainers/ash%20k/move?x=1`, 'POST', '{"a":1}');
    expect(answer.status).toBe(202);
    expect(answer.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(answer.body)).toMatchObject({
      trainerId: 'ash k',
      body: { kind: 'json', value: { a: 1 } },
      url: '/api/trainers/ash%20k/move?x=1',
    });
    expect(await call(`${url}/trainer.Move`, 'POST', '{}')).toMatchObject({ status: 200 });
    expect(lines).toContainEqual(expect.stringMatching(/^POST \/trainer\.Move 200 [\d.]+ ms$/));
    // The path only: a query string may carry a token.
    expect(lines).toContainEqual(
      expect.stringMatching(/^POST \/api\/trainers\/ash%20k\/move 202 /),
    );
    expect(lines.join('\n')).not.toContain('x=1');
  });

  it('runs the body reader first: its refusals (413 here) are answered the same way', async () => {
    const answer = await call(`${url}/api/trainers/ash/move`, 'POST', `{"a":"${'x'.repeat(100)}"}`);
    expect(answer.status).toBe(413);
    expect(answer.type).toBe('application/problem+json');
  });

  it('leaves every other request to the listener behind it (Express)', async () => {
    for (const [method, path] of [
      ['GET', '/api/trainers/ash/move'],
      ['POST', '/api/trainers/ash/move/more'],
      ['POST', '/api/trainers/a/b/move'],
      ['POST', '/api/trainers/%E0%A4%A/move'], // a malformed escape: Express answers it
      ['POST', '/trainerXMove'], // the '.' is literal
      ['POST', '/health'],
    ] as const)
      expect(await call(`${url}${path}`, method)).toEqual(
        expect.objectContaining({ status: 404, body: 'express' }),
      );
  });
});
