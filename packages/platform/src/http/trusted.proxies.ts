import { BlockList, isIP } from 'node:net';

/** Named sets of addresses, as Express's `trust proxy` names them. */
const PRESETS: Record<string, readonly [string, number][]> = {
  loopback: [
    ['127.0.0.0', 8],
    ['::1', 128],
  ],
  linklocal: [
    ['169.254.0.0', 16],
    ['fe80::', 10],
  ],
  uniquelocal: [
    ['10.0.0.0', 8],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
    ['fc00::', 7],
  ],
};

/**
 * The reverse proxies whose `X-Forwarded-For` an app believes (TRUST_PROXY), for the address an
 * unauthenticated caller is rate limited by (CallerGate), and whose `X-Forwarded-Proto` says
 * whether the client used TLS (the session cookie's `Secure`). Like Express's `trust proxy` with a
 * list: the client is the rightmost address of the chain that is not a trusted proxy, read from
 * the connection's peer leftwards. Only an address a trusted proxy appended is ever read, so a
 * direct client's own `X-Forwarded-For` changes nothing — but a client whose address is itself
 * trusted (on loopback, with `loopback`) counts as a proxy, and its header is believed.
 */
export class TrustedProxies {
  /** Trusts no one: the client is the connection's peer. */
  static readonly none = new TrustedProxies(new BlockList(), false);

  private constructor(
    private readonly trusted: BlockList,
    private readonly any: boolean,
  ) {}

  /**
   * Parses a comma-separated list of addresses, CIDR ranges (`10.0.0.0/8`, `fd00::/8`) and
   * `loopback`, `linklocal`, `uniquelocal`; empty or `false` trusts no one.
   * @throws Error naming the entry that is none of these
   */
  static parse(setting: string): TrustedProxies {
    const entries = setting
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    if (entries.length === 0 || (entries.length === 1 && entries[0] === 'false'))
      return TrustedProxies.none;
    const list = new BlockList();
    for (const entry of entries) {
      const preset = PRESETS[entry.toLowerCase()];
      if (preset) {
        for (const [network, prefix] of preset) list.addSubnet(network, prefix, familyOf(network));
        continue;
      }
      const [address = '', prefix, extra] = entry.split('/');
      const family = isIP(address);
      const max = family === 4 ? 32 : 128;
      const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      if (family === 0 || extra !== undefined || !(bits <= max))
        throw new Error(
          `not an IP address, a CIDR range, loopback, linklocal or uniquelocal: ${entry.slice(0, 64)}`,
        );
      list.addSubnet(address, bits, familyOf(address));
    }
    return new TrustedProxies(list, true);
  }

  /**
   * The client's address: the connection's peer, or — while that is a trusted proxy — the
   * address it appended to `X-Forwarded-For`, and so on leftwards. An entry that is not an IP
   * address stops the walk at the proxy that sent it.
   */
  clientAddress(
    peer: string | undefined,
    forwardedFor: string | string[] | undefined,
  ): string | undefined {
    let address = peer === undefined ? undefined : normalize(peer);
    if (!this.any || address === undefined || forwardedFor === undefined) return address;
    const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    while (this.trusts(address) && chain.length > 0) {
      const next = normalize(chain.pop()!.trim());
      if (isIP(next) === 0) break;
      address = next;
    }
    return address;
  }

  /**
   * Whether the client reached the proxy over TLS: the connection's own, or — when the peer is a
   * trusted proxy — the last `X-Forwarded-Proto` value (the one that proxy set) is `https`.
   * A client's own header counts for nothing.
   */
  isSecure(
    peer: { remoteAddress?: string; encrypted?: boolean },
    forwardedProto: string | string[] | undefined,
  ): boolean {
    if (peer.encrypted) return true;
    const address = peer.remoteAddress === undefined ? undefined : normalize(peer.remoteAddress);
    if (!this.any || address === undefined || !this.trusts(address)) return false;
    const values = (
      Array.isArray(forwardedProto) ? forwardedProto.join(',') : (forwardedProto ?? '')
    )
      .split(',')
      .map((value) => value.trim().toLowerCase());
    return values[values.length - 1] === 'https';
  }

  private trusts(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.trusted.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 4 ? 'ipv4' : 'ipv6';
}

/** `::ffff:127.0.0.1` (IPv4 on a dual-stack socket) → `127.0.0.1`; IPv6 in lower case. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}
