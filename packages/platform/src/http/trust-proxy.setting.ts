import { z } from 'zod';
import { TrustedProxies } from './trusted.proxies';

/**
 * TRUST_PROXY: the reverse proxies whose `X-Forwarded-For` names the client — addresses, CIDR
 * ranges (`10.0.0.0/8`, `fd00::/8`), `loopback`, `linklocal`, `uniquelocal`, comma-separated;
 * unset, empty or `false` trusts no one (the client is the connection's peer). Another entry
 * fails the start, naming it. See {@link TrustedProxies}.
 */
export const trustProxySetting = z
  .string()
  .default('')
  .transform((value, context) => {
    try {
      return TrustedProxies.parse(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
