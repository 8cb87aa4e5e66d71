import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import {
  Controller,
  Delete,
  Get,
  Global,
  type INestApplication,
  type LoggerService,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  NotFoundException,
  Param,
  Put,
  RequestMethod,
  UseFilters,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { rawHttpExchange } from '@causeway/testkit';
import request from 'supertest';
import { z } from 'zod';
import {
  CommandBusClosedError,
  CommandExpiredError,
  CommandRejectedError,
  CommandTimeoutError,
  isRejectedWith,
} from '../buses/bus.errors';
import { CommandBus } from '../buses/command-bus';
import { InMemoryDeadLetterQueue } from '../dead-letters/in-memory.dead-letter-queue';
import {
  ConcurrencyConflictError,
  StreamDeletedError,
  StreamNotFoundError,
} from '../event-store/event-store.errors';
import { SerializerRegistry } from '../messages/serializer.registry';
import { deadLetter } from '../middleware/dead-letter.middleware';
import { retry } from '../middleware/retry.middleware';
import { DomainError } from '../router/handler.errors';
import { Router } from '../router/router';
import { testEnvelope } from '../testing/envelope.fixture';
import { InMemoryBroker } from '../transport/in-memory/in-memory.transport';
import { topicNaming } from '../transport/topic.naming';
import { answerClientErrors } from './client-errors';
import {
  PROBLEM_DETAILS_OPTIONS,
  type ProblemDetails,
  ProblemDetailsFilter,
  type ProblemDetailsFilterOptions,
  ProblemException,
  PROBLEM_SCHEMA,
} from './problem-details.filter';
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

class InsufficientFunds extends DomainError {}

/** A DomainError that names its own client-error status. */
class AccountClosed extends DomainError {
  readonly status = 403;
}

/** What GET /errors/:kind throws: the library's errors, and one it does not know. */
const THROWN: Record<string, () => unknown> = {
  domain: () =>
    new InsufficientFunds('balance 30, asked 80', {
      code: 'insufficient-funds',
      details: { balance: 30, amount: 80 },
      cause: new Error('internal: ledger row 17'),
    }),
  'domain-status': () => new AccountClosed('account A-1 is closed', { code: 'account-closed' }),
  'domain-bare': () => new DomainError('no such trainer'),
  'domain-bigint': () => new DomainError('too much', { code: 'limit', details: { amount: 10n } }),
  rejected: () =>
    new CommandRejectedError('c-1', 'InsufficientFunds', 'balance 30, asked 80', {
      code: 'insufficient-funds',
      details: { balance: 30, amount: 80 },
    }),
  'rejected-plain-domain': () => new CommandRejectedError('c-2', 'DomainError', 'no such trainer'),
  // A remote DomainError that declared its own status (carried over the command bus).
  'rejected-status': () =>
    new CommandRejectedError('c-7', 'AccountClosed', 'account A-1 is closed', {
      code: 'account-closed',
      status: 403,
      refused: true,
    }),
  // A handler's failure dead-lettered on the other side: its message is not the caller's.
  'rejected-dead-lettered': () =>
    new CommandRejectedError('c-3', 'MongoServerError', 'connect ECONNREFUSED 10.0.0.7:27017'),
  expired: () =>
    new CommandExpiredError('c-4', 'Move', '2026-01-01T00:00:00.000Z', new Date(1_767_225_600_500)),
  conflict: () => new ConcurrencyConflictError('Account-A-1', 4, 6),
  'timeout-sent': () => new CommandTimeoutError('c-5', 'Move', 2_000),
  'timeout-unsent': () => new CommandTimeoutError('c-6', 'Move', 2_000, false),
  // The app's shutdown closed the command bus while the request waited for the reply.
  'closed-sent': () => new CommandBusClosedError('c-8', 'Move', true),
  deleted: () => new StreamDeletedError('Account-A-1'),
  'not-found': () => new StreamNotFoundError('Account-A-2'),
  unknown: () => new Error('password=hunter2 at db-7.internal'),
  'unknown-url': () => new Error('cannot reach redis://:hunter3@cache-7.internal:6379'),
  // An HTTP client's error for another service's answer (axios sets `status`): not the caller's.
  upstream: () =>
    Object.assign(new Error('Request failed with status code 401'), {
      status: 401,
      isAxiosError: true,
    }),
  'not-an-error': () => ({ message: 'a thrown object literal' }),
  // A 5xx the app answers on purpose (not ready during an outage): no error line of its own.
  'not-ready': () =>
    new ProblemException({ type: 'urn:test:not-ready', title: 'Not ready', status: 503 }),
};

/** What GET /bus does: set by the test of the command bus. */
let throughBus: () => Promise<unknown> = () => Promise.resolve('unset');

@Controller()
class ErrorsController {
  @Get('errors/:kind')
  throw(@Param('kind') kind: string): never {
    throw THROWN[kind]!();
  }

  @Get('bus')
  bus(): Promise<unknown> {
    return throughBus();
  }
}

/** Middleware for a GET path that no controller serves: Express gets a GET route layer there. */
@Module({ controllers: [ThingsController, ErrorsController] })
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

  it('names a body too large with its problem type, as command-api does', async () => {
    const large = await request(app.getHttpServer())
      .put('/things/1')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ filler: 'x'.repeat(200_000) }));
    expect(large.status).toBe(413);
    expect(JSON.parse(large.text)).toMatchObject({
      type: 'https://causeway.dev/problems/body-too-large',
      title: 'Content Too Large',
      status: 413,
      maxBytes: 102_400,
    });
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

describe("ProblemDetailsFilter's answers to the library's errors", () => {
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

  async function answer(path: string): Promise<{ status: number; body: ProblemDetails }> {
    const response = await request(app.getHttpServer()).get(path);
    expect(response.headers['content-type']).toBe('application/problem+json');
    const body = JSON.parse(response.text) as ProblemDetails;
    // The apps' OpenAPI documents describe every member clients may branch on.
    for (const member of Object.keys(body))
      expect(Object.keys(PROBLEM_SCHEMA.properties)).toContain(member);
    return { status: response.status, body };
  }

  it('answers a DomainError with 422, its message, code and details (not its cause)', async () => {
    const { status, body } = await answer('/errors/domain');
    expect(status).toBe(422);
    expect(body).toEqual({
      type: 'https://causeway.dev/problems/domain-rejected',
      title: 'Unprocessable Content',
      status: 422,
      detail: 'balance 30, asked 80',
      code: 'insufficient-funds',
      details: { balance: 30, amount: 80 },
      instance: '/errors/domain',
    });
  });

  it('answers a DomainError with its own 4xx status, and one without code or details bare', async () => {
    expect(await answer('/errors/domain-status')).toEqual({
      status: 403,
      body: {
        type: 'https://causeway.dev/problems/domain-rejected',
        title: 'Forbidden',
        status: 403,
        detail: 'account A-1 is closed',
        code: 'account-closed',
        instance: '/errors/domain-status',
      },
    });
    // Details that are not JSON are left out (a DomainError's should be JSON data).
    expect(await answer('/errors/domain-bigint')).toEqual({
      status: 422,
      body: {
        type: 'https://causeway.dev/problems/domain-rejected',
        title: 'Unprocessable Content',
        status: 422,
        detail: 'too much',
        code: 'limit',
        instance: '/errors/domain-bigint',
      },
    });
    expect(await answer('/errors/domain-bare')).toEqual({
      status: 422,
      body: {
        type: 'https://causeway.dev/problems/domain-rejected',
        title: 'Unprocessable Content',
        status: 422,
        detail: 'no such trainer',
        instance: '/errors/domain-bare',
      },
    });
  });

  it('answers a CommandRejectedError of a remote DomainError with 422 (or its own 4xx), its code and details', async () => {
    const { status, body } = await answer('/errors/rejected');
    expect(status).toBe(422);
    expect(body).toEqual({
      type: 'https://causeway.dev/problems/domain-rejected',
      title: 'Unprocessable Content',
      status: 422,
      detail: 'balance 30, asked 80',
      code: 'insufficient-funds',
      details: { balance: 30, amount: 80 },
      instance: '/errors/rejected',
    });
    expect(await answer('/errors/rejected-plain-domain')).toMatchObject({
      status: 422,
      body: { detail: 'no such trainer' },
    });
    // The handler's DomainError declared 403: the sender's edge answers what it would have.
    expect(await answer('/errors/rejected-status')).toEqual({
      status: 403,
      body: {
        type: 'https://causeway.dev/problems/domain-rejected',
        title: 'Forbidden',
        status: 403,
        detail: 'account A-1 is closed',
        code: 'account-closed',
        instance: '/errors/rejected-status',
      },
    });
  });

  it('answers a CommandRejectedError of a dead-lettered failure with a bare 500', async () => {
    const { status, body } = await answer('/errors/rejected-dead-lettered');
    expect(status).toBe(500);
    expect(body).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'The server failed to handle the request.',
      instance: '/errors/rejected-dead-lettered',
    });
  });

  it('answers a CommandExpiredError with 504: not handled, never will be', async () => {
    const { status, body } = await answer('/errors/expired');
    expect(status).toBe(504);
    expect(body).toMatchObject({
      type: 'https://causeway.dev/problems/command-expired',
      title: 'Gateway Timeout',
      status: 504,
      commandId: 'c-4',
      deadline: '2026-01-01T00:00:00.000Z',
    });
    expect(body.detail).toMatch(/not handled/);
  });

  it('answers a ConcurrencyConflictError with 409, the versions, and "reload and retry"', async () => {
    const { status, body } = await answer('/errors/conflict');
    expect(status).toBe(409);
    expect(body).toEqual({
      type: 'https://causeway.dev/problems/concurrency-conflict',
      title: 'Conflict',
      status: 409,
      detail: expect.stringMatching(/reload .*and retry/i),
      streamId: 'Account-A-1',
      expectedVersion: 4,
      actualVersion: 6,
      instance: '/errors/conflict',
    });
  });

  it('answers a CommandTimeoutError with 504 and whether the command was sent', async () => {
    const sent = await answer('/errors/timeout-sent');
    expect(sent.status).toBe(504);
    expect(sent.body).toEqual({
      type: 'https://causeway.dev/problems/command-timeout',
      title: 'Gateway Timeout',
      status: 504,
      detail: expect.stringMatching(/may still be handled/),
      commandId: 'c-5',
      sent: true,
      instance: '/errors/timeout-sent',
    });
    const unsent = await answer('/errors/timeout-unsent');
    expect(unsent.status).toBe(504);
    expect(unsent.body).toMatchObject({ sent: false, commandId: 'c-6' });
    expect(unsent.body.detail).toMatch(/not sent/);
  });

  it('answers a request its command bus closed under it (shutdown) with 503, Retry-After and Connection: close, not 500', async () => {
    // A request that reached the bus after it closed: nothing was sent, retrying is safe.
    const serializer = new SerializerRegistry().register('Move', z.object({}));
    const broker = new InMemoryBroker({ serializer });
    const router = new Router({ subscriber: broker.subscriber(), service: 'api', instanceId: 'x' });
    const bus = new CommandBus({
      publisher: broker,
      router,
      naming: topicNaming('test.'),
      serializer,
      instanceId: 'x',
    });
    bus.close();
    throughBus = () => bus.request(testEnvelope('Move', {}, { messageId: 'c-9' }));
    const logged: string[] = [];
    app.useLogger(capture(logged));
    try {
      const unsent = await request(app.getHttpServer()).get('/bus');
      expect(unsent.status).toBe(503);
      expect(unsent.headers['retry-after']).toBe('1');
      // The client's retry must not come back on this instance's keep-alive connection.
      expect(unsent.headers.connection).toBe('close');
      expect(JSON.parse(unsent.text)).toEqual({
        type: 'https://causeway.dev/problems/shutting-down',
        title: 'Service Unavailable',
        status: 503,
        detail: expect.stringMatching(
          /shutting down: the command was not sent, retrying it is safe/,
        ),
        commandId: 'c-9',
        sent: false,
        instance: '/bus',
      });
      // One the bus stopped waiting for: it may still be handled.
      const sent = await answer('/errors/closed-sent');
      expect(sent.status).toBe(503);
      expect(sent.body).toMatchObject({ commandId: 'c-8', sent: true });
      expect(sent.body.detail).toMatch(/may still be handled: look up its outcome/);
      // Deliberate: no error line with a stack for each request the shutdown refuses.
      expect(logged.filter((line) => /answered 503/.test(line))).toEqual([]);
    } finally {
      app.useLogger(false);
      await broker.close();
    }
  });

  it('answers a deleted stream with 410 and a missing one with 404', async () => {
    expect(await answer('/errors/deleted')).toEqual({
      status: 410,
      body: {
        type: 'https://causeway.dev/problems/stream-deleted',
        title: 'Gone',
        status: 410,
        detail: expect.any(String),
        streamId: 'Account-A-1',
        instance: '/errors/deleted',
      },
    });
    expect(await answer('/errors/not-found')).toEqual({
      status: 404,
      body: {
        type: 'https://causeway.dev/problems/stream-not-found',
        title: 'Not Found',
        status: 404,
        detail: expect.any(String),
        streamId: 'Account-A-2',
        instance: '/errors/not-found',
      },
    });
  });

  it('still answers an error it does not know with a bare 500, its message untold', async () => {
    for (const kind of ['unknown', 'not-an-error']) {
      const response = await request(app.getHttpServer()).get(`/errors/${kind}`);
      expect(response.status).toBe(500);
      expect(JSON.parse(response.text)).toEqual({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        detail: 'The server failed to handle the request.',
        instance: `/errors/${kind}`,
      });
      expect(response.text).not.toMatch(/hunter2|literal/);
    }
  });

  it('logs the cause of every unexpected error it answers — message, stack, path and request id — and of no 4xx or deliberate 503', async () => {
    const logged: string[] = [];
    app.useLogger(capture(logged));
    try {
      const failed = await request(app.getHttpServer())
        .get('/errors/unknown?token=secret-1')
        .set('X-Request-Id', 'probe-500');
      expect(failed.status).toBe(500);
      const [line, ...others] = logged.filter((entry) => entry.includes('probe-500'));
      expect(others).toEqual([]);
      expect(line).toContain('GET /errors/unknown answered 500 (request probe-500)');
      // The cause is logged, without the password its message holds (nor in the stack).
      expect(line).toContain('Error: password=[Redacted] at db-7.internal');
      expect(line).toMatch(/\n\s+at .*problem-details\.filter\.unit\.spec/);
      // The query string may hold a credential: never logged.
      expect(logged.join('\n')).not.toMatch(/secret-1|hunter2/);
      await request(app.getHttpServer())
        .get('/errors/not-an-error')
        .set('X-Request-Id', 'probe-obj');
      expect(logged.some((entry) => entry.includes('(request probe-obj): a thrown object'))).toBe(
        true,
      );
      const before = logged.length;
      for (const kind of ['domain', 'conflict', 'not-found'])
        expect((await request(app.getHttpServer()).get(`/errors/${kind}`)).status).toBeLessThan(
          500,
        );
      expect((await request(app.getHttpServer()).get('/errors/not-ready')).status).toBe(503);
      expect(logged.slice(before).filter((entry) => entry.includes('answered'))).toEqual([]);
    } finally {
      app.useLogger(false);
    }
  });

  it('logs the cause of an unexpected error without the password of a URL it quotes', async () => {
    const logged: string[] = [];
    app.useLogger(capture(logged));
    try {
      const failed = await request(app.getHttpServer())
        .get('/errors/unknown-url')
        .set('X-Request-Id', 'probe-url');
      expect(failed.status).toBe(500);
      const lines = logged.filter((entry) => entry.includes('probe-url'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('Error: cannot reach redis://[Redacted]@cache-7.internal:6379');
      expect(logged.join('\n') + failed.text).not.toContain('hunter3');
    } finally {
      app.useLogger(false);
    }
  });

  it("answers a real CommandBus.request's refusal (a handler's DomainError) with 422, code and details", async () => {
    const serializer = new SerializerRegistry()
      .register('Withdraw', z.object({ amount: z.number() }))
      .register('Close', z.object({}))
      .register('Explode', z.object({}));
    const broker = new InMemoryBroker({ serializer, redeliveryDelayMs: 5 });
    const naming = topicNaming('test.');
    const node = (service: string, instanceId: string) => {
      const router = new Router({ subscriber: broker.subscriber(), service, instanceId });
      router.use(
        deadLetter({ queue: new InMemoryDeadLetterQueue() }),
        retry({ maxAttempts: 2, initialDelayMs: 1 }),
      );
      const bus = new CommandBus({
        publisher: broker,
        router,
        naming,
        serializer,
        instanceId,
        timeoutMs: 2_000,
      });
      return { router, bus };
    };
    const accounts = node('accounts', 'a');
    accounts.bus.handle<{ amount: number }>('Withdraw', async (command) => {
      throw new InsufficientFunds(`balance 30, asked ${command.data.amount}`, {
        code: 'insufficient-funds',
        details: { balance: 30, amount: command.data.amount },
      });
    });
    accounts.bus.handle('Close', async () => {
      throw new InsufficientFunds('cannot close an account in debt'); // no code, no details
    });
    accounts.bus.handle('Explode', async () => {
      throw new Error('connect ECONNREFUSED db-7:27017 (user admin)'); // internal: not shown
    });
    const api = node('api', 'x');
    await Promise.all([accounts.router.run(), api.router.run()]);
    let thrown: unknown;
    throughBus = () =>
      api.bus.request(testEnvelope('Withdraw', { amount: 80 })).catch((error: unknown) => {
        thrown = error;
        throw error;
      });
    try {
      const response = await request(app.getHttpServer()).get('/bus');
      expect(thrown).toBeInstanceOf(CommandRejectedError);
      expect(isRejectedWith(thrown, InsufficientFunds)).toBe(true);
      expect(response.status).toBe(422);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(response.text)).toEqual({
        type: 'https://causeway.dev/problems/domain-rejected',
        title: 'Unprocessable Content',
        status: 422,
        detail: 'balance 30, asked 80',
        code: 'insufficient-funds',
        details: { balance: 30, amount: 80 },
        instance: '/bus',
      });
      // A DomainError subclass with no code is a refusal too: the reply says so.
      throughBus = () => api.bus.request(testEnvelope('Close', {}));
      const closed = await request(app.getHttpServer()).get('/bus');
      expect(closed.status).toBe(422);
      expect(JSON.parse(closed.text)).toMatchObject({ detail: 'cannot close an account in debt' });
      // A handler's failure, dead-lettered after its attempts: a bare 500, its message kept in.
      throughBus = () => api.bus.request(testEnvelope('Explode', {}));
      const exploded = await request(app.getHttpServer()).get('/bus');
      expect(exploded.status).toBe(500);
      expect(exploded.text).not.toMatch(/ECONNREFUSED|admin/);
    } finally {
      await Promise.all([accounts.router.close(), api.router.close()]);
    }
  });

  it("answers another service's 4xx that reached the controller as a logged 500, not as the caller's 4xx", async () => {
    const logged: string[] = [];
    app.useLogger(capture(logged));
    try {
      const response = await request(app.getHttpServer())
        .get('/errors/upstream')
        .set('X-Request-Id', 'probe-upstream');
      expect(response.status).toBe(500);
      expect(response.headers['www-authenticate']).toBeUndefined();
      expect(JSON.parse(response.text)).toMatchObject({ title: 'Internal Server Error' });
      expect(logged.filter((entry) => entry.includes('probe-upstream'))).toEqual([
        expect.stringContaining('Error: Request failed with status code 401'),
      ]);
    } finally {
      app.useLogger(false);
    }
  });

  it('keeps HttpExceptions and client errors as they were', async () => {
    const response = await request(app.getHttpServer()).get('/nothing/here');
    expect(response.status).toBe(404);
    expect(JSON.parse(response.text)).toMatchObject({ type: 'about:blank', title: 'Not Found' });
  });
});

/** A logger that keeps what is logged (messages and stacks), for assertions. */
function capture(lines: string[]): LoggerService {
  const keep = (...parts: unknown[]) => void lines.push(parts.map((p) => String(p)).join(' '));
  return { log: keep, error: keep, warn: keep, debug: keep, verbose: keep, fatal: keep };
}

describe("ProblemDetailsFilter's map option", () => {
  /** The team's own mapping: a refusal by name, an error of its own; else the filter's. */
  const map: ProblemDetailsFilterOptions['map'] = (error) => {
    if (isRejectedWith(error, InsufficientFunds))
      return {
        type: 'https://bank.example/problems/insufficient-funds',
        title: 'Payment Required',
        status: 402,
        detail: 'not enough money',
      };
    if (error instanceof ConcurrencyConflictError)
      return { type: 'about:blank', title: 'Precondition Failed', status: 412 };
    if (error instanceof StreamDeletedError) throw new Error('a broken map');
    if (error instanceof CommandTimeoutError)
      return { type: 'about:blank', title: 'Gateway Timeout', status: 504, at: 1n };
    if (error instanceof StreamNotFoundError)
      return { type: 'about:blank', title: 'nonsense', status: 200 } as ProblemDetails;
    if (error instanceof NotFoundException)
      return { type: 'https://bank.example/problems/no-route', title: 'Not Found', status: 404 };
    return undefined;
  };

  @Controller()
  @UseFilters(new ProblemDetailsFilter({ map }))
  class MappedController {
    @Get('mapped/:kind')
    throw(@Param('kind') kind: string): never {
      throw THROWN[kind]!();
    }
  }

  @Global()
  @Module({
    providers: [{ provide: PROBLEM_DETAILS_OPTIONS, useValue: { map } }],
    exports: [PROBLEM_DETAILS_OPTIONS],
  })
  class ProblemMappingModule {}

  const apps: INestApplication[] = [];
  async function start(imports: unknown[]): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      imports: imports as never[],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    apps.push(app);
    return app;
  }
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  it('answers with what map returns, and with the default mapping where it returns undefined', async () => {
    @Module({ controllers: [MappedController] })
    class MappedModule {}
    const app = await start([MappedModule]);
    const get = async (path: string) => {
      const response = await request(app.getHttpServer()).get(path);
      return { status: response.status, body: JSON.parse(response.text) as ProblemDetails };
    };
    expect(await get('/mapped/rejected')).toEqual({
      status: 402,
      body: {
        type: 'https://bank.example/problems/insufficient-funds',
        title: 'Payment Required',
        status: 402,
        detail: 'not enough money',
        instance: '/mapped/rejected',
      },
    });
    expect(await get('/mapped/conflict')).toMatchObject({ status: 412, body: { status: 412 } });
    // undefined: the library's mapping; a map that throws, or a status that is no error: too.
    expect(await get('/mapped/domain')).toMatchObject({
      status: 422,
      body: { code: 'insufficient-funds' },
    });
    expect(await get('/mapped/deleted')).toMatchObject({
      status: 410,
      body: { streamId: 'Account-A-1' },
    });
    expect(await get('/mapped/not-found')).toMatchObject({
      status: 404,
      body: { streamId: 'Account-A-2' },
    });
    // A document that is not JSON: the bare 500.
    expect(await get('/mapped/timeout-sent')).toMatchObject({
      status: 500,
      body: { title: 'Internal Server Error', instance: '/mapped/timeout-sent' },
    });
    expect(await get('/mapped/unknown')).toMatchObject({
      status: 500,
      body: { detail: 'The server failed to handle the request.' },
    });
  });

  it("takes the options from a PROBLEM_DETAILS_OPTIONS provider: CausewayServiceModule's app-wide filter", async () => {
    const app = await start([
      ProblemMappingModule,
      CausewayServiceModule.forRoot({ service: 'test', instanceId: 'i1', logLevel: 'silent' }),
      ThingsModule,
    ]);
    const rejected = await request(app.getHttpServer()).get('/errors/rejected');
    expect(rejected.status).toBe(402);
    expect(JSON.parse(rejected.text)).toMatchObject({
      type: 'https://bank.example/problems/insufficient-funds',
    });
    // HttpExceptions go through map too (a route no controller serves is Nest's 404).
    const missing = await request(app.getHttpServer()).get('/nothing/here');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toMatchObject({
      type: 'https://bank.example/problems/no-route',
    });
    // A method a known path does not serve is still the filter's 405.
    expect((await request(app.getHttpServer()).post('/things/1')).status).toBe(405);
    expect((await request(app.getHttpServer()).get('/errors/domain')).status).toBe(422);
  });

  it('is optional: the filter made without options (new, or by Nest) maps as before', () => {
    expect(new ProblemDetailsFilter()).toBeInstanceOf(ProblemDetailsFilter);
    expect(new ProblemDetailsFilter({})).toBeInstanceOf(ProblemDetailsFilter);
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
