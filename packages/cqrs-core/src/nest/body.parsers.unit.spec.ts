import { type IncomingMessage } from 'node:http';
import { Body, Controller, Module, Param, Post, Req } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { parseBodies, UNREAD_BODIES, type UnreadBodies } from './body.parsers';
import { ProblemException, problemType } from './problem-details.filter';
import { CausewayServiceModule } from './service.module';

@Controller('echo')
class EchoController {
  @Post()
  echo(@Body() body: unknown) {
    return { body };
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

describe('parseBodies', () => {
  const start = async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CausewayServiceModule.forRoot({
          service: 'body-test',
          instanceId: 'body-test-1',
          logLevel: 'silent',
        }),
        EchoModule,
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false, bodyParser: false });
    parseBodies(app);
    await app.init();
    return app;
  };

  it('parses JSON and form bodies as Nest does', async () => {
    const app = await start();
    try {
      const json = await request(app.getHttpServer())
        .post('/echo')
        .send({ a: [1, { b: 'ü' }] });
      expect(json.body).toEqual({ body: { a: [1, { b: 'ü' }] } });
      const form = await request(app.getHttpServer()).post('/echo').type('form').send('a[b]=1&c=2');
      expect(form.body).toEqual({ body: { a: { b: '1' }, c: '2' } });
    } finally {
      await app.close();
    }
  });

  it('hands any JSON text to the handler, not only objects and arrays', async () => {
    const app = await start();
    try {
      for (const text of ['null', '42', '"x"', 'true']) {
        const response = await request(app.getHttpServer())
          .post('/echo')
          .set('Content-Type', 'application/json')
          .send(text);
        expect({ text, status: response.status, body: response.body }).toEqual({
          text,
          status: 201,
          body: { body: JSON.parse(text) },
        });
      }
    } finally {
      await app.close();
    }
  });

  it("answers a body that is not JSON with malformed-json naming the parser's reason", async () => {
    const app = await start();
    try {
      const response = await request(app.getHttpServer())
        .post('/echo')
        .set('Content-Type', 'application/json')
        .send('{"a": ');
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.body).toMatchObject({
        type: 'https://causeway.dev/problems/malformed-json',
        title: 'Malformed JSON',
        status: 400,
        instance: '/echo',
      });
      expect(response.body.detail).toMatch(/^the body is not valid JSON: .*JSON/);
    } finally {
      await app.close();
    }
  });

  it('answers a charset the parser cannot read with unsupported-media-type', async () => {
    const app = await start();
    try {
      const response = await request(app.getHttpServer())
        .post('/echo')
        .set('Content-Type', 'application/json; charset=latin1')
        .send('{"a": 1}');
      expect(response.status).toBe(415);
      expect(response.body).toMatchObject({
        type: 'https://causeway.dev/problems/unsupported-media-type',
        status: 415,
        detail: 'the body\'s charset cannot be read: unsupported charset "LATIN1"',
      });
    } finally {
      await app.close();
    }
  });

  it('reads a compressed body; one it cannot decompress is malformed, a coding it cannot read unsupported', async () => {
    const app = await start();
    try {
      const gzipped = await request(app.getHttpServer())
        .post('/echo')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'gzip')
        // The bytes as they are, not as JSON (superagent's type says string; a Buffer is sent as is).
        .serialize((bytes: Buffer) => bytes as unknown as string)
        .send(gzipSync('{"a": 1}'));
      expect({ status: gzipped.status, body: gzipped.body }).toEqual({
        status: 201,
        body: { body: { a: 1 } },
      });
      // Said to be gzip, it is not (a client that forgot to compress): what is wrong, named.
      const corrupt = await request(app.getHttpServer())
        .post('/echo')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'gzip')
        .send('{"a": 1}');
      expect(corrupt.status).toBe(400);
      expect(corrupt.headers['content-type']).toContain('application/problem+json');
      expect(corrupt.body).toMatchObject({
        type: 'https://causeway.dev/problems/malformed-json',
        title: 'Malformed JSON',
        status: 400,
        detail:
          'the body cannot be decoded from the coding its Content-Encoding names (Z_DATA_ERROR)',
        instance: '/echo',
      });
      const compress = await request(app.getHttpServer())
        .post('/echo')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'compress')
        .send('{"a": 1}');
      expect(compress.status).toBe(415);
      // RFC 9110 §12.5.3: the codings it reads.
      expect(compress.headers['accept-encoding']).toBe('gzip, deflate, br');
      expect(compress.body).toMatchObject({
        type: 'https://causeway.dev/problems/unsupported-media-type',
        title: 'Unsupported Media Type',
        status: 415,
        detail:
          'the body\'s Content-Encoding cannot be read: unsupported content encoding "compress"; send it uncompressed, or as gzip, deflate or br',
      });
    } finally {
      await app.close();
    }
  });
});

/** What the handler of `POST /{route}` saw: the parsed body, and what it read of the stream. */
interface Seen {
  route: string;
  body: unknown;
  /** The bytes still in the request stream when the handler read it ('' once a parser had). */
  unread: string;
}

describe('UNREAD_BODIES', () => {
  const seen: Seen[] = [];

  /** Answers 401 without an Authorization header, as a route checking its credential in its handler does. */
  @Controller()
  class CredentialController {
    @Post(':route')
    async take(
      @Param('route') route: string,
      @Req() req: IncomingMessage,
      @Body() body: unknown,
    ): Promise<{ body: unknown }> {
      let unread = '';
      for await (const chunk of req) unread += String(chunk);
      seen.push({ route, body, unread });
      if (req.headers.authorization === undefined)
        throw new ProblemException({
          type: problemType('unauthenticated'),
          title: 'Unauthorized',
          status: 401,
          detail: 'a credential is required',
        });
      return { body };
    }
  }

  const withoutCredential =
    (route: string): UnreadBodies =>
    (req) =>
      req.url === `/${route}` && req.headers.authorization === undefined;

  // Two feature modules, each naming its own routes, as the embedded app's command-api and
  // gateway do: neither replaces the other's.
  @Module({ providers: [{ provide: UNREAD_BODIES, useValue: withoutCredential('a') }] })
  class FirstFeatureModule {}
  @Module({
    providers: [
      { provide: UNREAD_BODIES, useValue: [withoutCredential('b'), withoutCredential('c')] },
    ],
  })
  class SecondFeatureModule {}

  const start = async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CausewayServiceModule.forRoot({
          service: 'unread-test',
          instanceId: 'unread-test-1',
          logLevel: 'silent',
        }),
        FirstFeatureModule,
        SecondFeatureModule,
      ],
      controllers: [CredentialController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false, bodyParser: false });
    parseBodies(app);
    await app.init();
    return app;
  };
  beforeEach(() => (seen.length = 0));

  it("leaves unread the body of a request any module's provider names: the handler answers it, whatever the body", async () => {
    const app = await start();
    try {
      const bodies = ['{"a": ', JSON.stringify({ a: 'x'.repeat(200_000) })];
      for (const route of ['a', 'b', 'c'])
        for (const body of bodies) {
          const response = await request(app.getHttpServer())
            .post(`/${route}`)
            .set('Content-Type', 'application/json')
            .send(body);
          // Not the parsers' 400 malformed-json nor 413 body-too-large: the route's own problem.
          expect({ route, status: response.status, type: response.body.type }).toEqual({
            route,
            status: 401,
            type: 'https://causeway.dev/problems/unauthenticated',
          });
          // The whole body was still in the stream when the handler ran: nothing read it.
          expect(seen.pop()).toEqual({ route, body: undefined, unread: body });
        }
    } finally {
      await app.close();
    }
  });

  it('parses the body of a request no provider names', async () => {
    const app = await start();
    try {
      // With the credential, the named routes' bodies are parsed as any other.
      const parsed = await request(app.getHttpServer())
        .post('/b')
        .set('Authorization', 'Token t')
        .send({ a: 1 });
      expect({ status: parsed.status, body: parsed.body }).toEqual({
        status: 201,
        body: { body: { a: 1 } },
      });
      expect(seen).toEqual([{ route: 'b', body: { a: 1 }, unread: '' }]);
      const malformed = await request(app.getHttpServer())
        .post('/a')
        .set({ Authorization: 'Token t', 'Content-Type': 'application/json' })
        .send('{"a": ');
      expect({ status: malformed.status, type: malformed.body.type }).toEqual({
        status: 400,
        type: 'https://causeway.dev/problems/malformed-json',
      });
      // A route no provider names is parsed without the credential too.
      const other = await request(app.getHttpServer())
        .post('/d')
        .set('Content-Type', 'application/json')
        .send('{"a": ');
      expect({ status: other.status, type: other.body.type }).toEqual({
        status: 400,
        type: 'https://causeway.dev/problems/malformed-json',
      });
      expect(seen).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});

describe('UNREAD_BODIES of the wrong kind', () => {
  const named: UnreadBodies = (req) => req.url === '/a';

  it.each([
    ['an object holding the predicate', { unread: named }, 'an object'],
    ['a path', '/a', 'the string "/a"'],
    ['an array with a path in it', [named, '/b'], 'the string "/b"'],
    ['a boolean', true, 'boolean true'],
  ])(
    'fails parseBodies, naming UNREAD_BODIES and what was provided: %s',
    async (_, value, shown) => {
      @Module({ providers: [{ provide: UNREAD_BODIES, useValue: value }] })
      class MistakenModule {}
      const moduleRef = await Test.createTestingModule({
        imports: [
          CausewayServiceModule.forRoot({
            service: 'unread-test',
            instanceId: 'unread-test-1',
            logLevel: 'silent',
          }),
          MistakenModule,
        ],
        controllers: [EchoController],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false, bodyParser: false });
      try {
        // Skipped, the requests it meant to name had their bodies read and parsed without a word.
        expect(() => parseBodies(app)).toThrow(
          `parseBodies: an UNREAD_BODIES provider gave ${shown}; it must be a function (request) => boolean, or an array of them`,
        );
      } finally {
        await app.close();
      }
    },
  );
});
