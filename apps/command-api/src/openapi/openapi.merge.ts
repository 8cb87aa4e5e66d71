import { isDeepStrictEqual } from 'node:util';
import { type OpenAPIObject } from '@nestjs/swagger';

type Section = Record<string, unknown>;

/**
 * One OpenAPI document of several served by the same app (the embedded mode: command-api and
 * the SSE gateway): the paths and components of each `other` added to `base`'s. `base` keeps its
 * `openapi`, `security` (operations of the others must name their own) and `servers`; the titles
 * and descriptions are joined. A path, or a component that differs under the same name, in two
 * documents is an error: one of them would silently go missing.
 */
export function mergeOpenApi(base: OpenAPIObject, ...others: OpenAPIObject[]): OpenAPIObject {
  const merged = clone(base) as OpenAPIObject & { components: Record<string, Section> };
  merged.components ??= {};
  for (const other of others) {
    merged.info = {
      ...merged.info,
      title: `${merged.info.title} + ${other.info.title}`,
      description: [
        merged.info.description,
        `**${other.info.title}**: ${other.info.description ?? ''}`,
      ]
        .filter(Boolean)
        .join('\n\n'),
    };
    merged.paths = add(merged.paths, other.paths, 'path');
    for (const [section, entries] of Object.entries(other.components ?? {}))
      merged.components[section] = add(
        merged.components[section] ?? {},
        entries as Section,
        `components.${section}`,
      );
    if (other.tags) merged.tags = [...(merged.tags ?? []), ...other.tags];
  }
  return merged;
}

function add<T extends Section>(into: T, from: Section, what: string): T {
  const result: Section = { ...into };
  for (const [name, value] of Object.entries(from)) {
    if (name in result && !(what !== 'path' && isDeepStrictEqual(result[name], clone(value))))
      throw new Error(`mergeOpenApi: ${what} ${name} is in two documents`);
    result[name] = clone(value);
  }
  return result as T;
}

/** A deep copy of a JSON value (an OpenAPI document is JSON). */
function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
