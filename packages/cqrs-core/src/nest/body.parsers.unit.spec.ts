import { Body, Controller, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { parseBodies } from './body.parsers';
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
