import { isUnsettled, type Middleware } from '../router/handler';
import { DeferredError, failedAfterEffect, PermanentError } from '../router/handler.errors';
import { type DeduplicationStore } from './deduplication-store.port';
import { checkClaimLeaseMs, checkCompleteTtlMs } from './deduplication-store.rules';
import { throttledWarning } from '../router/throttled.warning';
import { callHook } from '../messages/hook.call';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';

export interface DeduplicatorOptions {
  store: DeduplicationStore;
  /** How long a handled messageId is remembered: a positive integer (ms). Default 24 h. */
  ttlMs?: number;
  /**
   * How long a claim holds if its holder dies mid-handling: a positive integer (ms). Default
   * 60 s. While the holder lives it renews the claim every third of this (stores with `renew`),
   * so a handling that outlasts it (slow retries) is not run a second time meanwhile.
   */
  leaseMs?: number;
  /**
   * The largest result (as JSON, in bytes) remembered with a handled messageId, so that a
   * duplicate is answered with it (a command sent again gets the first handling's reply).
   * A larger result, or one that has no JSON, is not remembered: its duplicates answer a
   * {@link ResultNotKept} (a CommandBus replies with CommandResultNotKeptError), not
   * `undefined` — a result of `undefined` is answered with `undefined`. Default 64 KiB; 0
   * remembers none.
   */
  maxResultBytes?: number;
  onDuplicate?: (event: { handler: string; messageId: string }) => void;
  /**
   * Called when a handling's outcome could not be kept because its claim lapsed and another
   * claimant took the key meanwhile (the handling outlasted its lease without renewals: a store
   * without `renew`, or a process paused longer than the lease) — a duplicate may have run, or
   * run now. Default: a throttled process warning ({@link DEDUPLICATION_WARNING}). Not awaited;
   * what it throws, or the promise it returns rejects with, is ignored.
   */
  onClaimLost?: (event: { handler: string; messageId: string }) => void;
}

/**
 * The `type` of the process warnings the deduplicator emits: a handling's claim was lost
 * (`CAUSEWAY_CLAIM_LOST`), or its outcome could not be stored (`CAUSEWAY_OUTCOME_NOT_STORED`).
 */
export const DEDUPLICATION_WARNING = 'CausewayDeduplicationWarning';

function warnOfLostClaims(): (event: { handler: string; messageId: string }) => void {
  const warn = throttledWarning({ type: DEDUPLICATION_WARNING, code: 'CAUSEWAY_CLAIM_LOST' });
  return (event) =>
    warn(
      event.handler,
      `message ${event.messageId} was handled by ${event.handler} after its deduplication ` +
        'claim lapsed and another delivery claimed it: its outcome is not remembered, and the ' +
        'message may be handled twice (raise leaseMs, or use a store with renew)',
    );
}

/**
 * What the deduplicator answers a duplicate with when the first handling's result was not
 * remembered (see `maxResultBytes`): the message was handled, its result is gone. A
 * CommandBus turns it into a CommandResultNotKeptError for the requester rather than a
 * success with no result; other handlers' results go nowhere.
 */
export class ResultNotKept {
  constructor(readonly messageId: string) {}
}

/**
 * Stored for a result that was not remembered, so that a duplicate can tell it from a result of
 * `undefined` (nothing stored). The leading space makes it no JSON.stringify output (which never
 * starts with one), so no result is mistaken for it; and a previous release, which parses
 * whatever is stored, reads it as a string instead of failing during a rolling upgrade.
 */
const NOT_KEPT = ' "result not kept"';

/**
 * What the deduplicator throws for a duplicate of a message whose first handling failed after
 * its handler took effect (`failedAfterEffect`, e.g. a command's result that did not match its
 * schema): that failure again, with its name and message — a PermanentError, so the duplicate is
 * dead-lettered and its requester rejected as the first one was, the handler not run again.
 */
export class FailedAfterEffectError extends PermanentError {
  constructor(
    readonly messageId: string,
    name: string,
    message: string,
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * What the deduplicator throws for a duplicate whose first handling's stored outcome cannot be
 * read (not the JSON it stores: written by something else, or damaged). The message was handled
 * once already, so it is not run again; a PermanentError, so it is dead-lettered at once with
 * this reason (its requester rejected) rather than failed and redelivered until the record
 * expires (`ttlMs`, a day by default) — on Kafka, a partition stuck behind it for that long.
 */
export class UnreadableOutcomeError extends PermanentError {
  constructor(
    readonly messageId: string,
    /** The store key: `<group>:<messageId>`. */
    readonly key: string,
    cause: unknown,
  ) {
    super(
      `message ${messageId} was handled once already, but the outcome the deduplication store ` +
        `keeps for it (key ${key}) cannot be read (${(cause as Error)?.message ?? String(cause)}): ` +
        'it is not handled again. Delete that key from the store (or wait out its ttlMs) ' +
        'before replaying it to have it handled again',
      { cause },
    );
    this.name = 'UnreadableOutcomeError';
  }
}

/**
 * Stored for a failure after the handler's effect: FAILED_TAG then the failure's name and
 * message as JSON, all as a JSON string after a leading space — like NOT_KEPT, no result's JSON
 * equals it, and a previous release reads it as a string.
 */
const FAILED_TAG = 'failed after its effect: ';

function encodeFailure(error: unknown): string {
  const name = (error as Error).name;
  const message = (error as Error).message;
  return ' ' + JSON.stringify(FAILED_TAG + JSON.stringify({ name, message }));
}

/** The failure `stored` keeps, when it keeps one. */
function decodeFailure(stored: string, messageId: string): FailedAfterEffectError | undefined {
  if (!stored.startsWith(' ')) return undefined;
  const text: unknown = JSON.parse(stored);
  if (typeof text !== 'string' || !text.startsWith(FAILED_TAG)) return undefined;
  const { name, message } = JSON.parse(text.slice(FAILED_TAG.length)) as {
    name: string;
    message: string;
  };
  return new FailedAfterEffectError(messageId, name, message);
}

/**
 * Skips messages this consumer group already handled (by messageId), across every instance
 * when the store is shared (Redis). A message being handled elsewhere right now is deferred
 * (redelivered later); a duplicate of a handled one is answered with the first handling's
 * result, as JSON (see `maxResultBytes`; a {@link ResultNotKept} when it was not remembered).
 * A failed handling releases its claim so that the retry can run, and so does an UNSETTLED
 * result (a command's Refusal: the next delivery is answered again) — except a failure after the
 * handler took effect (`failedAfterEffect`: a command's result that does not match its schema),
 * which is kept as the outcome: a duplicate throws it again ({@link FailedAfterEffectError}),
 * the handler is not run again. An outcome the store fails to take is tried again (four attempts
 * in about a second and a half); if it still fails, the claim is kept, not released — a
 * redelivery is deferred until the claim lapses (`leaseMs`) instead of repeating the effect at
 * once — the handling answers its result, and a throttled `CAUSEWAY_OUTCOME_NOT_STORED`
 * warning says so. A duplicate whose kept outcome cannot be read throws
 * {@link UnreadableOutcomeError} (permanent: dead-lettered, not handled again).
 * Place it outside retry and inside dead letter. Handlers registered as `idempotent` are left
 * alone: no claim, no store round trip.
 * @throws TypeError or RangeError at once (at start-up, not per message) when `ttlMs` or
 *   `leaseMs` is not a positive safe integer, as every store would refuse it
 */
export function deduplicator(options: DeduplicatorOptions): Middleware {
  const ttlMs = options.ttlMs ?? 86_400_000;
  const leaseMs = options.leaseMs ?? 60_000;
  checkCompleteTtlMs(ttlMs);
  checkClaimLeaseMs(leaseMs);
  const maxResultBytes = options.maxResultBytes ?? 65_536;
  const onClaimLost = options.onClaimLost ?? warnOfLostClaims();
  const outcomeNotStored = warnOfOutcomesNotStored();
  return (next, info) => {
    if (info.idempotent) return next;
    return async (delivery) => {
      const key = `${delivery.group}:${delivery.envelope.messageId}`;
      // A failing report must not turn the handling, done, into a failure that is retried.
      const claimLost = () =>
        callHook(() => onClaimLost({ handler: info.name, messageId: delivery.envelope.messageId }));
      const claim = await options.store.claim(key, leaseMs);
      if (claim.state !== 'claimed') {
        if (claim.state === 'busy')
          throw new DeferredError(
            `message ${delivery.envelope.messageId} is being handled elsewhere`,
          );
        options.onDuplicate?.({ handler: info.name, messageId: delivery.envelope.messageId });
        if (claim.result === undefined) return undefined;
        if (claim.result === NOT_KEPT) return new ResultNotKept(delivery.envelope.messageId);
        let failure: FailedAfterEffectError | undefined;
        let result: unknown;
        try {
          failure = decodeFailure(claim.result, delivery.envelope.messageId);
          if (!failure) result = JSON.parse(claim.result);
        } catch (error) {
          // A SyntaxError was taken for a transient failure: redelivered until the key expired.
          throw new UnreadableOutcomeError(delivery.envelope.messageId, key, error);
        }
        if (failure) throw failure;
        return result;
      }
      // Renewed while the handling lasts (its retries included): it lapses only if we die.
      const renewal = keepClaimed(options.store, key, claim.token, leaseMs);
      try {
        const result = await next(delivery);
        // An UNSETTLED result (a command's Refusal) changed nothing: not "handled" for ever.
        if (isUnsettled(result)) await options.store.release(key, claim.token);
        else {
          const stored = await keepOutcome(options.store, key, claim.token, ttlMs, () =>
            encode(result, maxResultBytes),
          );
          if (stored === false) claimLost();
          else if (stored === 'failed') outcomeNotStored(info.name, delivery.envelope.messageId);
        }
        return result;
      } catch (error) {
        // Failed after its effect: that is the outcome, kept so that no duplicate repeats the
        // effect. Any other failure is released for the retry (nothing took effect for good).
        // A kept failure whose claim another delivery took is reported as a kept result is.
        if (failedAfterEffect(error)) {
          const stored = await keepOutcome(options.store, key, claim.token, ttlMs, () =>
            encodeFailure(error),
          );
          if (stored === false) claimLost();
          else if (stored === 'failed') outcomeNotStored(info.name, delivery.envelope.messageId);
        } else await options.store.release(key, claim.token).catch(() => undefined);
        throw error;
      } finally {
        clearInterval(renewal);
      }
    };
  };
}

/** Attempts at storing a handling's outcome (`complete`), the first one included. */
const COMPLETE_ATTEMPTS = 4;

/**
 * Stores a handling's outcome, trying again after a jittered exponential backoff (from 400 ms,
 * at most 1 s a wait, about a second and a half in all) while the store fails: the
 * handling took effect, so releasing its claim would let a redelivery repeat it. Resolves what
 * `complete` answered — true (a store answering nothing counts as stored) or false (another
 * claimant holds the key) — or 'failed' when every attempt threw. A false after an attempt that
 * threw is taken as stored: that attempt may have stored it before its reply was lost (the key
 * is then done already), and reporting a lost claim for it would be wrong.
 */
async function keepOutcome(
  store: DeduplicationStore,
  key: string,
  token: string,
  ttlMs: number,
  value: () => string | undefined,
): Promise<boolean | 'failed'> {
  const policy = retry(handleAll, {
    maxAttempts: COMPLETE_ATTEMPTS - 1, // cockatiel counts retries
    // Decorrelated jitter from 400 ms: 1.1 to 2.1 s in all, 1.5 on average (from 100 ms, as it
    // was, 0.3 to 0.6 s: a failover of a second outlasted it).
    backoff: new ExponentialBackoff({ initialDelay: 400, maxDelay: 1_000 }),
  });
  let threw = false;
  try {
    return await policy.execute(async () => {
      try {
        return (await store.complete(key, token, ttlMs, value())) !== false || threw;
      } catch (error) {
        threw = true;
        throw error;
      }
    });
  } catch {
    return 'failed';
  }
}

function warnOfOutcomesNotStored(): (handler: string, messageId: string) => void {
  const warn = throttledWarning({
    type: DEDUPLICATION_WARNING,
    code: 'CAUSEWAY_OUTCOME_NOT_STORED',
  });
  return (handler, messageId) =>
    warn(
      handler,
      `message ${messageId} was handled by ${handler}, but the deduplication store failed to ` +
        `record it after ${COMPLETE_ATTEMPTS} attempts: its claim is kept, so a redelivery is ` +
        'deferred until the claim lapses (leaseMs), then handled again',
    );
}

/**
 * Renews a claim every third of its lease while it is held (stores with `renew`); a failed
 * renewal is tried again at the next one, the lease lapsing meanwhile as without renewals.
 */
function keepClaimed(
  store: DeduplicationStore,
  key: string,
  token: string,
  leaseMs: number,
): NodeJS.Timeout | undefined {
  if (!store.renew) return undefined;
  const renew = store.renew.bind(store);
  const timer = setInterval(
    () => void renew(key, token, leaseMs).catch(() => undefined),
    Math.max(10, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  return timer;
}

/**
 * The result as JSON if it has one within the limit; nothing for `undefined` (answered as
 * such); otherwise NOT_KEPT.
 */
function encode(result: unknown, maxBytes: number): string | undefined {
  if (result === undefined) return undefined;
  if (maxBytes <= 0) return NOT_KEPT;
  let json: string | undefined;
  try {
    json = JSON.stringify(result);
  } catch {
    return NOT_KEPT; // a BigInt or a cycle: no JSON for it
  }
  // No JSON (a function, a symbol) is as good as undefined: that is what a reply carries.
  if (json === undefined) return undefined;
  return Buffer.byteLength(json) > maxBytes ? NOT_KEPT : json;
}
