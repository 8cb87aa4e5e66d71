import { isWellFormed, NOT_WELL_FORMED } from '../config/well-formed';

/** A JSON value as a document holds it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** A JSON object: a document, or a JSON Merge Patch (RFC 7386). */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Whether `value` is a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `value` as a document is stored: a deep copy made of plain JSON only, with the members whose
 * value is `null` or `undefined` left out of its objects — in a JSON Merge Patch (RFC 7386)
 * `null` means "remove", so a stored document never holds a null member. Inside arrays
 * everything stays as it is (`[null]`, `[{ "a": null }]`): a patch replaces an array whole.
 * `where` names the document in errors.
 * @throws TypeError naming the path of the first value that is not JSON: a Date, Map, class
 *   instance, function, symbol, bigint, NaN or ±Infinity, a cycle, or a `__proto__` key; or of
 *   a string or key that is not well-formed Unicode (a lone UTF-16 surrogate, which Redis and
 *   MongoDB would keep as U+FFFD, and a read store refuses: the document's projection would halt)
 */
export function jsonDocumentOf(value: unknown, where: string): JsonObject {
  if (!isPlainObject(value))
    throw new TypeError(`${where}: a document must be a plain JSON object, got ${kindOf(value)}`);
  return copyObject(value, where, '', new Set(), false);
}

/**
 * `value` without the null (and undefined) members of its objects, outside arrays, as
 * jsonDocumentOf leaves them out; nothing else is checked or converted (a schema may still turn
 * a Date into text). Not an object: `value` as it is.
 */
export function withoutNullMembers(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const member = value[key];
    if (member === null || member === undefined) continue;
    Object.defineProperty(copy, key, {
      value: withoutNullMembers(member),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

function copyObject(
  source: Record<string, unknown>,
  where: string,
  path: string,
  seen: Set<object>,
  inArray: boolean,
): JsonObject {
  if (seen.has(source)) throw notJson(where, path, 'a cycle');
  seen.add(source);
  const copy: JsonObject = {};
  for (const key of Object.keys(source)) {
    const member = source[key];
    if (member === undefined || (member === null && !inArray)) continue;
    if (key === '__proto__') throw notJson(where, join(path, key), 'the key __proto__');
    if (!isWellFormed(key)) throw notWellFormed(where, join(path, key), 'key');
    copy[key] = copyValue(member, where, join(path, key), seen, inArray);
  }
  seen.delete(source);
  return copy;
}

function copyValue(
  value: unknown,
  where: string,
  path: string,
  seen: Set<object>,
  inArray: boolean,
): JsonValue {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw notWellFormed(where, path, 'text');
      return value;
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      throw notJson(where, path, String(value));
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        if (seen.has(value)) throw notJson(where, path, 'a cycle');
        seen.add(value);
        const items = value.map((item: unknown, index) =>
          item === undefined ? null : copyValue(item, where, `${path}[${index}]`, seen, true),
        );
        seen.delete(value);
        return items;
      }
      if (isPlainObject(value)) return copyObject(value, where, path, seen, inArray);
      throw notJson(where, path, kindOf(value));
    }
    default:
      throw notJson(where, path, kindOf(value));
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  // Any realm's Object.prototype (structuredClone and vm contexts make objects of another realm):
  // the prototype is null, or an object whose own prototype is null.
  const prototype = Object.getPrototypeOf(value) as object | null;
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)
      ?.constructor?.name;
    return name ? `a ${name}` : 'an object';
  }
  return `a ${typeof value}`;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function notJson(where: string, path: string, what: string): TypeError {
  return new TypeError(`${where}: ${path} is ${what}, which JSON cannot hold; store plain JSON`);
}

function notWellFormed(where: string, path: string, what: 'key' | 'text'): TypeError {
  return new TypeError(`${where}: the ${what} at ${path} ${NOT_WELL_FORMED}`);
}
