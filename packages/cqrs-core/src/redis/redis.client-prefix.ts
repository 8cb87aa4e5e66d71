import type Redis from 'ioredis';

/**
 * Refuses a client with ioredis' own `keyPrefix` option. ioredis prefixes the keys a command
 * names, but not the keys a Lua script builds from its arguments: a store whose scripts build
 * keys would write outside the client's namespace, where none of its own reads look. Such a
 * store takes its whole prefix in its `keyPrefix` option instead.
 *
 * @throws TypeError naming options.client's keyPrefix and the option to use
 */
export function refuseClientKeyPrefix(client: Redis, owner: string): void {
  const prefix = client.options?.keyPrefix;
  if (prefix)
    throw new TypeError(
      `${owner}: options.client has its own ioredis keyPrefix ${JSON.stringify(prefix)}, which ` +
        'scripts do not apply to the keys they build; give a client without keyPrefix and put ' +
        `the whole prefix in options.keyPrefix (e.g. ${JSON.stringify(`${prefix}…`)})`,
    );
}
