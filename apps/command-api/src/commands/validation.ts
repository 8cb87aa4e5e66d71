import { type z } from 'zod';
import { type FieldError, ValidationError } from '../errors/command-api.errors';

/**
 * Parses `input` with `schema`, or throws a ValidationError naming every wrong field (dotted
 * path; `root` when the input itself is wrong). A missing field says "is required" (with the
 * values it may take, if a set) instead of zod's "expected number, received undefined", and so
 * does a missing input (no body).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(fieldErrors(result.error, input, root));
}

export function fieldErrors(error: z.ZodError, input: unknown, root: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        errors.push({ field: [...path, key].join('.'), message: 'is not a known field' });
      continue;
    }
    // No body at all (none sent, or Content-Length: 0): not zod's "expected object, received
    // undefined", which reads as if the client had sent something of the wrong type.
    if (path.length === 0 && input === undefined)
      return [{ field: root, message: 'is required: send a JSON object' }];
    const field = path.length > 0 ? path.join('.') : root;
    const missing = path.length > 0 && !has(input, issue.path);
    errors.push({ field, message: missing ? required(issue) : issue.message });
  }
  return errors;
}

/**
 * What a missing field's issue says: "is required", with the values it may take when it has a
 * set of them (an `action`: `is required: "start" or "stop"`, not `must be "start" or "stop"`,
 * which reads as if a wrong one had been sent).
 */
function required(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_value' || issue.values.length === 0) return 'is required';
  const shown = issue.values.map((value) =>
    typeof value === 'bigint' ? String(value) : JSON.stringify(value),
  );
  return `is required: ${shown.join(' or ')}`;
}

function has(input: unknown, path: readonly PropertyKey[]): boolean {
  let value: unknown = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !(key in value)) return false;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value !== undefined;
}

/**
 * The parts of one request checked together (path parameters, body, headers): `parse` each,
 * then `done` refuses the request once, naming every wrong field of every part — not the
 * path's alone, then the body's once the path is fixed, then a header's.
 */
export class FieldCheck {
  private readonly errors: FieldError[] = [];

  /** `input` parsed with `schema`; undefined when it is wrong (its fields are noted). */
  parse<S extends z.ZodType>(schema: S, input: unknown, root: string): z.output<S> | undefined {
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    this.errors.push(...fieldErrors(result.error, input, root));
    return undefined;
  }

  /** Notes wrong fields found otherwise (a header's). */
  add(errors: readonly FieldError[]): void {
    this.errors.push(...errors);
  }

  /** @throws ValidationError naming every wrong field noted, if any */
  done(): void {
    if (this.errors.length > 0) throw new ValidationError(this.errors);
  }
}
