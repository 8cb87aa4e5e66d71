import { type OpenAPIObject } from '@nestjs/swagger';
import { commandApiOpenApi } from './openapi.document';
import { mergeOpenApi } from './openapi.merge';

const other = (extra: Record<string, unknown> = {}): OpenAPIObject =>
  ({
    openapi: '3.1.0',
    info: { title: 'Other', version: '1.0.0', description: 'other things' },
    paths: { '/events': { get: { security: [], responses: { '200': { description: 'ok' } } } } },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'c' },
      },
      schemas: { Frame: { type: 'string' } },
      ...extra,
    },
  }) as unknown as OpenAPIObject;

describe('mergeOpenApi', () => {
  it('is command-api’s document unchanged without others', () => {
    expect(mergeOpenApi(commandApiOpenApi())).toEqual(commandApiOpenApi());
  });

  it('adds the paths and components of the others, keeping the base’s global security', () => {
    const base = commandApiOpenApi();
    const merged = mergeOpenApi(base, other()) as unknown as {
      info: { title: string; description: string };
      paths: Record<string, unknown>;
      security: unknown;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    expect(Object.keys(merged.paths)).toEqual([...Object.keys(base.paths), '/events']);
    expect(Object.keys(merged.components.securitySchemes)).toEqual([
      ...Object.keys(base.components!.securitySchemes!),
      'cookie',
    ]);
    expect(merged.components.schemas.Frame).toEqual({ type: 'string' });
    expect(merged.components.schemas.MoveBody).toBeDefined();
    expect(merged.security).toEqual([{ bearer: [] }]);
    expect(merged.info.title).toBe('Causeway command API + Other');
    expect(merged.info.description).toContain('**Other**: other things');
    // The inputs are left as they were.
    expect(base).toEqual(commandApiOpenApi());
  });

  it('refuses a path in two documents, and a component that differs under one name', () => {
    const twice = other();
    (twice.paths as Record<string, unknown>)['/rpc'] = {};
    expect(() => mergeOpenApi(commandApiOpenApi(), twice)).toThrow(/path \/rpc is in two/);
    const differs = other({ schemas: { Problem: { type: 'string' } } });
    expect(() => mergeOpenApi(commandApiOpenApi(), differs)).toThrow(
      /components.schemas Problem is in two/,
    );
  });
});
