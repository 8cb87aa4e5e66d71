import { documentForm, publicDocument } from './edge.openapi';

const notAdmin = (path: string) => !path.startsWith('/admin/');

describe("the edge's OpenAPI document", () => {
  const document = {
    openapi: '3.1.0',
    security: [{ bearer: [] }],
    paths: {
      '/rpc': { post: { responses: { '200': { $ref: '#/components/responses/Ok' } } } },
      '/admin/x/{id}': {
        get: {
          security: [{ admin: [] }],
          responses: { '200': { $ref: '#/components/responses/AdminOnly' } },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http' }, admin: { type: 'http' } },
      responses: {
        Ok: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Both' } } } },
        AdminOnly: {
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Admin~1Row' } } },
        },
      },
      schemas: {
        Both: { type: 'object' },
        'Admin/Row': { properties: { both: { $ref: '#/components/schemas/Both' } } },
        Unused: { type: 'string' },
      },
    },
  };

  it('drops the refused paths and what only they used, and keeps the rest as it is', () => {
    const kept = publicDocument(document, notAdmin);
    expect(Object.keys(kept.paths!)).toEqual(['/rpc']);
    expect(kept.components).toEqual({
      securitySchemes: { bearer: { type: 'http' } },
      responses: { Ok: document.components.responses.Ok },
      schemas: { Both: { type: 'object' }, Unused: { type: 'string' } },
    });
    expect(kept.security).toEqual([{ bearer: [] }]);
    expect(publicDocument(kept, notAdmin)).toBe(kept);
  });

  it('rewrites the JSON and YAML forms, and the Swagger UI script, alike', () => {
    const json = documentForm(['docs-json'])!(JSON.stringify(document), notAdmin)!;
    expect(Object.keys(JSON.parse(json).paths)).toEqual(['/rpc']);
    const yaml = documentForm(['docs-yaml'])!('paths:\n  /rpc: {}\n  /admin/x: {}\n', notAdmin)!;
    expect(yaml).toBe('paths:\n  /rpc: {}\n');
    const script = `window.onload = function() {\n  let options = ${JSON.stringify({ swaggerDoc: document, customOptions: {} }, null, 2)};\n  url = options.swaggerUrl || url\n}`;
    const rewritten = documentForm(['docs', 'swagger-ui-init.js'])!(script, notAdmin)!;
    expect(rewritten).not.toContain('/admin/x/{id}');
    expect(rewritten).toContain('"/rpc"');
    expect(rewritten).toMatch(/\n {2}url = options\.swaggerUrl \|\| url\n\}$/);
    expect(documentForm(['docs', 'other.js'])).toBeUndefined();
  });
});
