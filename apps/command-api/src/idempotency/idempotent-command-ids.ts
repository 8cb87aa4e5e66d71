import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';

// Namespace of command ids derived from an Idempotency-Key (a fixed, random uuid).
const NAMESPACE = Buffer.from('b2f4c1d87a9e4c0b8e5f3a6d2c7e1f90', 'hex');

interface Scope {
  /** The caller-scoped key (`user:key`). */
  key: string;
  /** Commands created so far in this request (a JSON-RPC batch creates several, in order). */
  created: number;
  /** Epoch ms the key's first attempt was accepted (IdempotencyBegin `startedAt`). */
  acceptedAt: number;
}

const scopes = new AsyncLocalStorage<Scope>();

/**
 * Runs `run` with the commands it creates getting ids derived from `scopedKey`, and the time
 * `acceptedAt` (epoch ms) of the key's first attempt as their creation time.
 */
export function withIdempotencyKey<T>(
  scopedKey: string,
  acceptedAt: number,
  run: () => Promise<T>,
): Promise<T> {
  return scopes.run({ key: scopedKey, created: 0, acceptedAt }, run);
}

/**
 * When the current request was first accepted, when it carries an Idempotency-Key: the time of
 * the key's first attempt (epoch ms), the same for every retry of it; else undefined (now,
 * then). The commands of a keyed request are created at that time, so a command sent again
 * under its id (idempotentCommandId) keeps the creation time, and so the deadline, it was
 * first sent with: a copy that expired is not followed by a copy that is still in time.
 */
export function idempotentAcceptedAt(): number | undefined {
  return scopes.getStore()?.acceptedAt;
}

/**
 * The id of the next command of the current request when it carries an Idempotency-Key, else
 * undefined (a random id then). A uuid v5 (RFC 9562) of the scope's key (IdempotencyGate: the
 * caller-scoped key, the request's fingerprint and the key's start time) and the command's
 * position in the request: a retry of the request (same key, same request, while the key is
 * remembered) sends the very same command ids, so the command handler recognises a command it
 * already executed (trainer-service: by command id) instead of executing it twice, while a
 * request under a key that expired — another one or the same again — gets ids of its own.
 */
export function idempotentCommandId(): string | undefined {
  const scope = scopes.getStore();
  if (!scope) return undefined;
  const hash = createHash('sha1')
    .update(NAMESPACE)
    .update(`${scope.key}\n${scope.created++}`, 'utf8')
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
