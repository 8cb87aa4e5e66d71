import { type MessageSerializer } from './serializer.port';

/**
 * The stored type names a filter on `types` must match: each type and its former names (see
 * MessageSerializer.namesOf), so events written before a rename are found under the new name.
 * undefined when there is no filter.
 */
export function storedTypeNames(
  serializer: MessageSerializer,
  types: readonly string[] | undefined,
): Set<string> | undefined {
  if (!types) return undefined;
  const names = new Set<string>();
  for (const type of types)
    for (const name of serializer.namesOf?.(type) ?? [type]) names.add(name);
  return names;
}
