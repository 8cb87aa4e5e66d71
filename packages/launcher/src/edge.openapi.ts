import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/** An OpenAPI document, as far as the edge reads it. */
interface OpenApiDocument {
  paths?: Record<string, unknown>;
  components?: Record<string, Record<string, unknown> | undefined>;
  security?: unknown;
  [key: string]: unknown;
}

/** Rewrites one form of the document (its text), or gives undefined when it cannot read it. */
export type DocumentRewrite = (text: string, keep: (path: string) => boolean) => string | undefined;

/**
 * The Swagger UI script's options (`let options = {…};`, JSON with the document as
 * `swaggerDoc`), as @nestjs/swagger writes them: the object ends at the first `}` that begins a
 * line (inner ones are indented; JSON strings hold no line break).
 */
const UI_OPTIONS = /(let options = )(\{[\s\S]*?\n\})(;)/;

const JSON_FORM: DocumentRewrite = (text, keep) =>
  JSON.stringify(publicDocument(JSON.parse(text) as OpenApiDocument, keep));
const YAML_FORM: DocumentRewrite = (text, keep) =>
  stringifyYaml(publicDocument(parseYaml(text) as OpenApiDocument, keep), {
    aliasDuplicateObjects: false,
  });
const UI_FORM: DocumentRewrite = (text, keep) => {
  const found = UI_OPTIONS.exec(text);
  if (!found) return undefined;
  const options = JSON.parse(found[2]!) as { swaggerDoc?: OpenApiDocument };
  if (options.swaggerDoc === undefined) return undefined;
  options.swaggerDoc = publicDocument(options.swaggerDoc, keep);
  return text.replace(UI_OPTIONS, (_, before: string, __, after: string) =>
    [before, JSON.stringify(options, null, 2), after].join(''),
  );
};

/**
 * Where command-api serves its OpenAPI document (SwaggerModule at `docs`), by the path's
 * segments as the edge matches them (lower case, joined with `/`): `/docs-json`, `/docs-yaml`
 * and the Swagger UI page's script (`/docs/swagger-ui-init.js`, which holds the document whole;
 * `/docs/docs/…` too, where the page's relative URLs lead from `/docs/`).
 */
const DOCUMENT_FORMS: Record<string, DocumentRewrite> = {
  'docs-json': JSON_FORM,
  'docs-yaml': YAML_FORM,
  'docs/swagger-ui-init.js': UI_FORM,
  'docs/docs/swagger-ui-init.js': UI_FORM,
};

/** How the document served at these path segments is rewritten, if one is served there. */
export function documentForm(segments: readonly string[]): DocumentRewrite | undefined {
  return DOCUMENT_FORMS[segments.join('/')];
}

/**
 * The document with only the paths `keep` takes, and without the components (schemas,
 * security schemes, …) that only the removed paths used: a reader of the edge's document sees
 * no route, nor credential, that the edge refuses. Anything else stays as it is (components no
 * path uses included).
 */
export function publicDocument(
  document: OpenApiDocument,
  keep: (path: string) => boolean,
): OpenApiDocument {
  const entries = Object.entries(document.paths ?? {});
  const removed = entries.filter(([path]) => !keep(path)).map(([, item]) => item);
  if (removed.length === 0) return document;
  const paths = Object.fromEntries(entries.filter(([path]) => keep(path)));
  const components = document.components ?? {};

  const usedByRemoved = referenced(removed, components);
  const otherComponents = Object.entries(components).flatMap(([section, named]) =>
    Object.entries(named ?? {})
      .filter(([name]) => !usedByRemoved.has(refOf(section, name)))
      .map(([, component]) => component),
  );
  const usedByKept = referenced(
    [{ ...document, paths, components: undefined }, ...otherComponents],
    components,
  );
  const schemesOfRemoved = securitySchemesOf(removed);
  const schemesOfKept = securitySchemesOf(Object.values(paths), document.security);

  const kept: OpenApiDocument['components'] = {};
  for (const [section, named] of Object.entries(components)) {
    if (named === undefined) continue;
    kept[section] = Object.fromEntries(
      Object.entries(named).filter(([name]) =>
        section === 'securitySchemes'
          ? !schemesOfRemoved.has(name) || schemesOfKept.has(name)
          : !usedByRemoved.has(refOf(section, name)) || usedByKept.has(refOf(section, name)),
      ),
    );
  }
  return {
    ...document,
    paths,
    ...(document.components !== undefined && { components: kept }),
  };
}

function refOf(section: string, name: string): string {
  return `#/components/${section}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** Every `#/components/…` reference of `roots`, and of the components they lead to. */
function referenced(roots: unknown[], components: OpenApiDocument['components']): Set<string> {
  const found = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const node = pending.pop();
    if (Array.isArray(node)) pending.push(...(node as unknown[]));
    else if (node !== null && typeof node === 'object')
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/')) {
          if (found.has(value)) continue;
          found.add(value);
          const [section, name] = value
            .slice('#/components/'.length)
            .split('/')
            .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
          pending.push(components?.[section!]?.[name!]);
        } else pending.push(value);
      }
  }
  return found;
}

/** The security schemes the operations of these path items (and `global`) name. */
function securitySchemesOf(items: unknown[], global?: unknown): Set<string> {
  const requirements: unknown[] = Array.isArray(global) ? [...(global as unknown[])] : [];
  for (const item of items)
    for (const operation of Object.values((item ?? {}) as Record<string, unknown>)) {
      const security = (operation as { security?: unknown } | null)?.security;
      if (Array.isArray(security)) requirements.push(...(security as unknown[]));
    }
  return new Set(requirements.flatMap((requirement) => Object.keys(requirement ?? {})));
}
