import { invalidRequest } from './invalid-request.problem';
import { type z } from 'zod';

/**
 * A path parameter checked against `schema` (e.g. contracts' TaskId): its value, or a 400
 * `invalid-request` problem naming it (`errors: [{ field: name, message }]`, the schema's first
 * message), as queryParameter answers. Checked before any store is asked: an id no store can
 * key (a NUL, 2 000 characters) is the caller's mistake, not a 500.
 */
export function pathParameter<T>(schema: z.ZodType<T>, name: string, value: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const message = result.error.issues[0]?.message ?? 'is not valid';
  throw invalidRequest(name, message);
}
