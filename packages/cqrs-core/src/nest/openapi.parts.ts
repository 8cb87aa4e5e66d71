import { z } from 'zod';

/** A JSON Schema (2020-12, what OpenAPI 3.1 uses) or an OpenAPI object, loosely typed. */
export type OpenApiSchema = Record<string, unknown>;

/**
 * The JSON Schema of a zod schema as the server sends it (its output side): the parts of an
 * app's hand-written OpenAPI document come from the same schemas that validate the answers.
 */
export function openApiSchemaOf(type: z.ZodType): OpenApiSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(type, {
    io: 'output',
    unrepresentable: 'any',
  }) as OpenApiSchema;
  return rest;
}

/** A reference to `components.schemas.<name>`. */
export const openApiRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** An `application/json` content of `body`. */
export const openApiJson = (body: OpenApiSchema) => ({ 'application/json': { schema: body } });

/** A problem response (`components.schemas.Problem`, PROBLEM_SCHEMA) with optional headers. */
export const openApiProblem = (description: string, headers?: Record<string, OpenApiSchema>) => ({
  description,
  ...(headers && { headers }),
  content: { 'application/problem+json': { schema: openApiRef('Problem') } },
});
