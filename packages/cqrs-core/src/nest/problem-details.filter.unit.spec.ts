import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import {
  Controller,
  Delete,
  Get,
  type INestApplication,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  Put,
  RequestMethod,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { rawHttpExchange } from '@causeway/testkit';
import request from 'supertest';
import { answerClientErrors } from './client-errors';
import { ProblemException } from './problem-details.filter';
import { CausewayServiceModule } from './service.module';

@Controller('things')
class ThingsController {
  @Get(':id')
  get(): string {
    return 'thing';
  }

  @Put(':id')
  put(): string {
    return 'put';
  }

  @Delete(':id')
  remove(): string {
    return 'removed';
  }

  @Get()
  unauthorized(): never {
    throw new ProblemException({ title: 'Unauthorized', status: 401, detail: 'no token' });
  }

  @Get('expired/token')
  expired(): never {
    throw new ProblemException(
      { title: 'Unauthorized', status: 401, detail: 'token expired' },
      {
        headers: {
          'WWW-Authenticate': 'Bearer realm="causeway", error="invalid_token"',
          'Cache-Control': 'no-store',
        },
      },
    );
  }
}

/** Middleware for a GET path that no controller serves: Express gets a GET route layer there. */
@Module({ controllers: [ThingsController] })
class ThingsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply((_req: unknown, _res: unknown, next: () => void) => next())
      .forRoutes({ path: 'cached/*path', method: RequestMethod.GET });
  }
}

describe('ProblemDetailsFilter', () => {
  let app: INestApplication;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CausewayServiceModule.forRoot({ service: 'test', instanceId: 'i1', logLevel: 'silent' }),
        ThingsModule,
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(() => app.close());

  it('answers a method a known path does not serve with 405, Allow and a problem document', async () => {
    const response = await request(app.getHttpServer()).post('/things/1?token=secret');
    expect(response.status).toBe(405);
    expect(response.headers['allow']).toBe('DELETE, GET, HEAD, PUT');
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(response.text)).toEqual({
      type: 'about:blank',
      title: 'Method Not Allowed',
      status: 405,
      detail: '/things/1 does not serve POST; it serves DELETE, GET, HEAD, PUT',
      instance: '/things/1',
    });
    // HEAD of a GET route is Express's as before.
    expect((await request(app.getHttpServer()).head('/things/1')).status).toBe(200);
  });

  it('keeps 404 for an unknown path, whatever the method', async () => {
    for (const method of ['get', 'post'] as const) {
      const response = await request(app.getHttpServer())[method]('/nothing/here');
      expect(response.status).toBe(404);
      expect(response.headers['allow']).toBeUndefined();
      expect(response.headers['content-type']).toBe('application/problem+json');
    }
  });

  it('keeps 404 when a route of the request method exists but no controller took it (middleware)', async () => {
    const response = await request(app.getHttpServer()).get('/cached/x');
    expect(response.status).toBe(404);
    expect(response.headers['allow']).toBeUndefined();
  });

  it('challenges a 401 with the realm and sends the problem type without a charset', async () => {
    const response = await request(app.getHttpServer()).get('/things');
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="causeway"');
    expect(response.headers['content-type']).toBe('application/problem+json');
  });

  it("sends a ProblemException's headers, its challenge instead of the default one", async () => {
    const response = await request(app.getHttpServer()).get('/things/expired/token');
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="causeway", error="invalid_token"',
    );
    expect(response.headers['cache-control']).toBe('no-store');
  });
});

describe('answerClientErrors', () => {
  let server: Server;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    answerClientErrors(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const send = (raw: string) =>
    rawHttpExchange(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, raw);

  it('answers headers too large with a 431 problem document and closes', async () => {
    const answer = await send(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer.head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(answer.head).toContain('\r\nContent-Type: application/problem+json\r\n');
    expect(answer.head).toContain('\r\nConnection: close');
    expect(JSON.parse(answer.body)).toEqual({
      type: 'about:blank',
      title: 'Request Header Fields Too Large',
      status: 431,
      detail: 'The request header fields are too large.',
    });
  });

  it('answers a malformed request with a 400 problem document', async () => {
    const answer = await send('GET / HTTP/1.1\r\nNo Colon Here\r\n\r\n');
    expect(answer.head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, title: 'Bad Request' });
  });

  it('still serves good requests', async () => {
    const answer = await send('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer.head).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.body).toContain('ok');
  });
});
