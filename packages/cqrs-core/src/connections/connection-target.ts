/** Query options of server addresses whose values are credentials (ioredis `password`, …). */
const CREDENTIAL_OPTION = /pass|pwd|secret|token|key|credential|authMechanismProperties/i;

/**
 * A server address as logs may show it: the user and password of a URL removed
 * (`redis://:secret@host:6379` → `redis://host:6379`), up to the last `@` (a password with an
 * `@` in it: drivers split there), and the values of credential options in its query string
 * replaced (`?password=…` → `?password=[Redacted]`); everything else kept.
 */
export function withoutCredentials(address: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(address)?.[0];
  if (scheme === undefined) return address;
  let rest = address.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at >= 0) rest = rest.slice(at + 1);
  const query = rest.indexOf('?');
  if (query < 0) return scheme + rest;
  const options = rest
    .slice(query + 1)
    .split('&')
    .map((option) => {
      const equals = option.indexOf('=');
      return equals > 0 && CREDENTIAL_OPTION.test(option.slice(0, equals))
        ? `${option.slice(0, equals)}=[Redacted]`
        : option;
    });
  return `${scheme}${rest.slice(0, query)}?${options.join('&')}`;
}

/**
 * `text` (a driver's error message, a warning) with every address in it shown as
 * withoutCredentials shows one: `address` itself wherever it is quoted, and the user info of
 * any other URL.
 */
export function credentialsRemoved(text: string, address?: string): string {
  const quoted = address ? text.split(address).join(withoutCredentials(address)) : text;
  return quoted.replace(/\/\/[^/\s"'`]*@/g, '//[Redacted]@');
}
