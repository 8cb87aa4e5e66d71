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
 * any other URL. Credentials outside a URL's user info are replaced too: `password=…` (and
 * `secret=`, `token=`, `requirepass=` …, in a query string or in words), Redis' `requirepass …`,
 * `masterauth …` and `AUTH …` arguments, and a `Bearer …` token.
 */
export function credentialsRemoved(text: string, address?: string): string {
  const quoted = address ? text.split(address).join(withoutCredentials(address)) : text;
  return quoted
    .replace(/\/\/[^/\s"'`]*@/g, '//[Redacted]@')
    .replace(CREDENTIAL_VALUE, '$1=[Redacted]')
    .replace(CREDENTIAL_ARGUMENT, '$1 [Redacted]')
    .replace(AUTH_ARGUMENTS, 'AUTH [Redacted]')
    .replace(BEARER_TOKEN, '$1 [Redacted]');
}

/** A value: up to a space, a quote, `&`, `,`, `;` or `)`. */
const VALUE = String.raw`[^\s"'\x60&,;)]+`;
/** `password=…` and the like, in a URL's query or in a driver's own words. */
const CREDENTIAL_VALUE = new RegExp(
  String.raw`\b(password|passwd|pwd|pass|passphrase|secret|client_secret|token|access_token|refresh_token|id_token|api_?key|requirepass|masterauth)=${VALUE}`,
  'gi',
);
/** Redis' `requirepass <pw>` / `masterauth <pw>` (a CONFIG SET quoted by an error). */
const CREDENTIAL_ARGUMENT = new RegExp(String.raw`\b(requirepass|masterauth)\s+${VALUE}`, 'gi');
/** Redis' `AUTH <pw>` or `AUTH <user> <pw>` (both arguments: the command's form is not known). */
const AUTH_ARGUMENTS = new RegExp(String.raw`\bAUTH(?:[ \t]+${VALUE}){1,2}`, 'g');
/** An HTTP bearer token (`Authorization: Bearer …`). */
const BEARER_TOKEN = new RegExp(String.raw`\b(Bearer)\s+${VALUE}`, 'gi');
