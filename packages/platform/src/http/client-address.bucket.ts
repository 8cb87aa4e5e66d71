import { isIPv6 } from 'node:net';

/**
 * How many leading bits of an IPv6 address name one client for the rate limits. A host gets a
 * /64 at least and a home or small office commonly a /56, from which it can take a fresh address
 * per request: counted by whole address, an IPv6 client would have 2^64 budgets and more. /56 is
 * express-rate-limit's default (`ipv6Subnet`) for the same reason.
 */
export const IPV6_CLIENT_PREFIX_BITS = 56;

/**
 * The address a client's requests are counted by (CallerGate.addressKey): an IPv4 address as it
 * is; an IPv6 address as its /56 network (`2001:db8:aa:bb00::/56`), however it is spelled (`::`,
 * leading zeros, case, a `%zone`). An IPv6 address whose first 80 bits are zero (IPv4-mapped
 * `::ffff:a.b.c.d` when not unwrapped already, IPv4-compatible `::a.b.c.d`, loopback) stays whole:
 * its /56 would be one bucket for every such client. Anything else is returned unchanged.
 */
export function addressBucket(address: string): string {
  const unzoned = address.split('%')[0]!;
  if (!isIPv6(unzoned)) return address;
  const groups = hextetsOf(unzoned);
  if (groups.slice(0, 5).every((group) => group === 0)) return address.toLowerCase();
  const kept = IPV6_CLIENT_PREFIX_BITS;
  const network = groups.map((group, index) => {
    const bits = Math.min(16, Math.max(0, kept - index * 16));
    return bits === 0 ? 0 : group & ((0xffff << (16 - bits)) & 0xffff);
  });
  return `${compressed(network)}/${kept}`;
}

/** The eight 16-bit groups of a valid IPv6 address (without zone), a dotted IPv4 tail included. */
function hextetsOf(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 text of eight groups: the longest run of two or more zero groups as `::`. */
function compressed(groups: number[]): string {
  let best = { at: -1, length: 0 };
  for (let at = 0; at < groups.length;) {
    if (groups[at] !== 0) {
      at++;
      continue;
    }
    let end = at;
    while (end < groups.length && groups[end] === 0) end++;
    if (end - at > best.length) best = { at, length: end - at };
    at = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.length < 2) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}
