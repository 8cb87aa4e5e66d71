/**
 * A server address as logs may show it: the user and password of a URL removed
 * (`redis://:secret@host:6379` → `redis://host:6379`), everything else kept.
 */
export function withoutCredentials(address: string): string {
  return address.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1');
}
