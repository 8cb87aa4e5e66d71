import { isIP } from 'node:net';
import { z } from 'zod';

const PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY: the reverse proxies whose X-Forwarded-For names the client, as command-api
 * reads it — addresses, CIDR ranges (`10.0.0.0/8`, `fd00::/8`), `loopback`, `linklocal`,
 * `uniquelocal`, comma-separated; empty or `false` trusts no one (undefined). The gateway hands
 * the list to Express's `trust proxy`, which walks X-Forwarded-For the same way: the client is
 * the rightmost address that is not a trusted proxy, read from the connection's peer leftwards.
 */
export const trustProxySetting = z
  .string()
  .default('')
  .transform((value, context) => {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    if (entries.length === 0 || (entries.length === 1 && entries[0] === 'false')) return undefined;
    for (const entry of entries) {
      if (PRESETS.has(entry.toLowerCase())) continue;
      const [address = '', prefix, extra] = entry.split('/');
      const family = isIP(address);
      const bits = prefix === undefined ? 0 : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      if (family === 0 || extra !== undefined || !(bits <= (family === 4 ? 32 : 128))) {
        context.addIssue({
          code: 'custom',
          message: `not an IP address, a CIDR range, loopback, linklocal or uniquelocal: ${entry.slice(0, 64)}`,
        });
        return z.NEVER;
      }
    }
    return entries.map((entry) => (PRESETS.has(entry.toLowerCase()) ? entry.toLowerCase() : entry));
  });
