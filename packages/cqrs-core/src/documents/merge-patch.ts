import { isJsonObject, type JsonObject, type JsonValue } from './json.document';

/**
 * The JSON Merge Patch (RFC 7386) that turns `before` into `after`: the members added or
 * changed (objects on both sides as a patch of their own), `null` for the members removed.
 * Arrays and other values are compared by value and replaced whole. `{}` when they are equal.
 * Both must be stored documents (jsonDocumentOf): a null member cannot be told from a removed one.
 */
export function mergePatchOf(before: JsonObject, after: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) patch[key] = null;
  for (const key of Object.keys(after)) {
    const next = after[key]!;
    const previous = Object.hasOwn(before, key) ? before[key] : undefined;
    if (isJsonObject(next) && isJsonObject(previous)) {
      const nested = mergePatchOf(previous, next);
      if (Object.keys(nested).length > 0) patch[key] = nested;
    } else if (previous === undefined || !jsonEquals(previous, next)) {
      patch[key] = next;
    }
  }
  return patch;
}

/**
 * `target` with `patch` applied, as RFC 7386 section 2 says: a member set to `null` is removed,
 * an object is merged member by member, anything else replaces. Neither argument is changed.
 */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key]!;
    if (value === null) delete result[key];
    else
      defineMember(
        result,
        key,
        applyMergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value),
      );
  }
  return result;
}

/** Sets `key` as an own data member, so that a `__proto__` key in a stored patch stays a key. */
function defineMember(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Deep equality of two JSON values (member order does not matter). */
export function jsonEquals(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a))
    return (
      Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEquals(item, b[i]!))
    );
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEquals(a[key]!, b[key]!));
}
