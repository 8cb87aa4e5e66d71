import { hash } from 'node:crypto';

/** Prefix of every checksum; names the algorithm so that another one can be added later. */
export const CHECKSUM_PREFIX = 'sha256:';

/**
 * `sha256:<hex>` of the UTF-8 bytes of serialized message data (S1-2). Computed over the exact
 * string that is stored or sent: re-serializing the same object can give another string (key
 * order), so verify against the stored text, never against a re-serialization.
 */
export function checksumOf(serialized: string): string {
  // One-shot hash (Node >= 20.12): no Hash object per message on the consume path.
  return CHECKSUM_PREFIX + hash('sha256', serialized, 'hex');
}

/** Length of a checksum: the prefix and 64 hex digits. */
const CHECKSUM_LENGTH = CHECKSUM_PREFIX.length + 64;

/**
 * True when `checksum` is the checksum of `serialized`. Hot (every message read): compares the
 * prefix and the digest in place instead of building the expected text.
 */
export function checksumMatches(serialized: string, checksum: string | undefined): boolean {
  return (
    checksum !== undefined &&
    checksum.length === CHECKSUM_LENGTH &&
    checksum.startsWith(CHECKSUM_PREFIX) &&
    checksum.endsWith(hash('sha256', serialized, 'hex'))
  );
}
