import { type MessageType, typeNameOf } from './message.type';
import { type MessageSerializer } from './serializer.port';

/**
 * The names data of `type` may carry: the current name first, then its former ones
 * (MessageSerializer.namesOf, SerializerRegistry.formerNames); `[type]` without a serializer
 * or renames. The one place the buses, stores, forwarder and dead-letter queues ask.
 */
export function namesOfType(
  serializer: MessageSerializer | undefined,
  type: string,
): readonly string[] {
  return serializer?.namesOf?.(type) ?? [type];
}

/** The name `type` has now: itself, or the type it was renamed to. */
export function currentTypeName(serializer: MessageSerializer | undefined, type: string): string {
  return namesOfType(serializer, type)[0] ?? type;
}

/**
 * The stored type names a filter on `types` (names or message types, taken by name) must match:
 * each type and its former names, so events written before a rename are found under the new
 * name. undefined when there is no filter.
 */
export function storedTypeNames(
  serializer: MessageSerializer | undefined,
  types: readonly (string | MessageType)[] | undefined,
): Set<string> | undefined {
  if (!types) return undefined;
  return new Set(types.flatMap((type) => namesOfType(serializer, typeNameOf(type))));
}
