import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { type Caller } from '@causeway/platform';
import { COMMAND_API_OPTIONS, type CommandApiOptions } from '../command-api.options';
import {
  CommandUnconfirmedError,
  type FieldError,
  IdempotencyConflictError,
  IdempotencyUnavailableError,
  OrderUnconfirmedError,
  ValidationError,
} from '../errors/command-api.errors';
import { type Answer, type ApiRequest, header } from '../http/http.types';
import { fingerprintTarget } from './idempotency.target';
import { withIdempotencyKey } from './idempotent-command-ids';

/** How long a request may be in flight before its key is freed for a retry. */
const LEASE_MS = 30_000;
const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * What is wrong with the request's `Idempotency-Key` (none when it is absent or well-formed):
 * for an endpoint to name it with the request's other wrong fields, in one 422.
 */
export function idempotencyKeyErrors(request: ApiRequest): FieldError[] {
  const key = header(request, 'idempotency-key');
  // Node joins repeated headers ("k1, k2"): that reads as one key with a space, malformed.
  const sent = (request.rawHeaders ?? []).filter(
    (name, i) => i % 2 === 0 && name.toLowerCase() === 'idempotency-key',
  ).length;
  if (sent > 1)
    return [
      {
        field: 'Idempotency-Key',
        message: `must be sent once (the request has ${sent} Idempotency-Key headers)`,
      },
    ];
  return key === undefined || KEY.test(key)
    ? []
    : [{ field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' }];
}

/** An answer and whether it may be replayed (transient failures are not stored). */
export interface Produced extends Answer {
  storable: boolean;
  /**
   * Nothing was sent (a JSON-RPC answer whose every call was refused or only read): not kept,
   * and the key is freed as after a refused request, so a retry is a new request.
   */
  sentNothing?: boolean;
}

/** Deeper than any command body nests; past it a body is fingerprinted by its bytes. */
const MAX_CANONICAL_DEPTH = 64;

/**
 * JSON text with every object's keys sorted, so two texts of one value give one string (the
 * parse already dropped whitespace); undefined when `value` nests deeper than
 * MAX_CANONICAL_DEPTH (without recursing further: a deep body would overflow the stack).
 */
function canonical(value: unknown, depth: number): string | undefined {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (depth >= MAX_CANONICAL_DEPTH) return undefined;
  const parts: string[] = [];
  const keys = Array.isArray(value) ? undefined : Object.keys(value).sort();
  for (const key of keys ?? (value as unknown[]).keys()) {
    const part = canonical((value as Record<string | number, unknown>)[key], depth + 1);
    if (part === undefined) return undefined;
    parts.push(keys ? `${JSON.stringify(key)}:${part}` : part);
  }
  return keys ? `{${parts.join(',')}}` : `[${parts.join(',')}]`;
}

/**
 * What identifies a body: its canonical JSON, or its bytes when it nests too deep for that. An
 * empty JSON object is no body: PUT / DELETE of a group take an optional body, and read `{}` and
 * none alike (no timestamp), so a retry sending the other was a 422 `idempotency-key-reused`;
 * every other endpoint refuses both, and a refusal is never kept. `{}` takes the print of no body,
 * not the other way round: a key stored with no body before session 48 keeps its fingerprint.
 */
function bodyPrint(body: ApiRequest['commandApiBody']): string | Buffer {
  if (body?.kind !== 'json') return body?.raw ?? Buffer.alloc(0);
  if (isEmptyObject(body.value)) return Buffer.alloc(0);
  return canonical(body.value, 0) ?? body.raw;
}

function isEmptyObject(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 0
  );
}

/**
 * `Idempotency-Key`: the first answer to a (caller, key) is stored with a fingerprint of method,
 * target and body (the target as fingerprintTarget spells it, a JSON body by its value, see
 * bodyPrint); a retry gets that answer again
 * and sends nothing; the same key with another request is a 422 (IdempotencyConflictError
 * `mismatch`), while the first is still in flight a 409. Failed requests free the key; the commands a request creates have ids derived from
 * the key (idempotentCommandId), so a retry after a failure — a 503 that could not tell whether
 * the command was sent — repeats the same commands rather than new ones. Once the key is
 * forgotten (IDEMPOTENCY_TTL_S after its answer), a request under it is a new one: new ids. They are also created
 * at the time of the key's first attempt (idempotentAcceptedAt), kept by the store through the
 * failure, so a repeated move carries the first one's deadline: a first copy delivered late
 * and expired is not followed by its retry applied within a later deadline.
 */
@Injectable()
export class IdempotencyGate {
  private readonly logger = new Logger(IdempotencyGate.name);
  private readonly ttlMs: number;

  constructor(@Inject(COMMAND_API_OPTIONS) private readonly options: CommandApiOptions) {
    this.ttlMs = options.idempotencyTtlMs ?? 86_400_000;
  }

  /**
   * `route`: the request's path as routed (routePath), which the fingerprint takes for the path
   * the request spelt; without it, that spelling (percent-decoded, no trailing slash).
   */
  async run(
    caller: Caller,
    request: ApiRequest,
    produce: () => Promise<Produced>,
    route?: string,
  ): Promise<Answer & { replayed: boolean }> {
    const key = header(request, 'idempotency-key');
    if (key === undefined) return { ...(await produce()), replayed: false };
    const malformed = idempotencyKeyErrors(request);
    if (malformed.length > 0) throw new ValidationError(malformed);
    const scoped = `${encodeURIComponent(caller.userId)}:${key}`;
    const body = request.commandApiBody;
    const fingerprint = createHash('sha256')
      // The target by its meaning: a proxy's absolute form, percent-encoding, the path's letter
      // case (Express routes ignore it) or parameter order does not make another request (a
      // retry through another hop would be a 422).
      .update(`${request.method} ${fingerprintTarget(request.originalUrl, route)}\n`)
      // A JSON body by its meaning: whitespace and key order do not make another request.
      .update(bodyPrint(body))
      .digest('hex');
    let begun: Awaited<ReturnType<CommandApiOptions['idempotency']['begin']>>;
    const token = randomUUID();
    // The commands' clock: a retry's commands are stamped with the first attempt's time.
    const at = this.options.clock?.now() ?? Date.now();
    try {
      // The key's start time outlives a failed attempt as long as an answer would (ttlMs).
      begun = await this.options.idempotency.begin(scoped, fingerprint, LEASE_MS, {
        at,
        keepMs: this.ttlMs,
        token,
      });
    } catch (error) {
      // Nothing was produced yet, nothing sent: a retry with the key is safe. But a store that
      // did not answer in time may still take the key (Redis runs a timed-out script once it
      // is free again): undo that, or the retry would meet a lease nobody holds (409 for
      // LEASE_MS) and then this attempt's start time (and so its deadline).
      this.logger.warn(`Idempotency-Key not checked: ${(error as Error)?.message}`);
      this.abandonLater(scoped, token);
      throw new IdempotencyUnavailableError();
    }
    if (begun.state === 'completed')
      return { ...begun.answer, headers: { 'Idempotent-Replayed': 'true' }, replayed: true };
    if (begun.state !== 'started') throw new IdempotencyConflictError(begun.state);
    let produced: Produced;
    try {
      // Commands created by this request get ids derived from the key: a retry after a failure
      // (the key is freed) sends the same commands again, which their handler recognises, and
      // created at the first attempt's time, so with the first attempt's deadline.
      // The ids derive from the request too (its fingerprint), and from the key's start time,
      // which a retry keeps (a retry of the same request gets the same ids) but a key that
      // expired or was freed does not: a request under it, even the same one, is answered as a
      // new command, so it gets ids of its own — the old ones may still be in the status store
      // and in trainer-service's recent ids, which would drop the new command as done already.
      produced = await withIdempotencyKey(
        `${scoped}\n${fingerprint}\n${begun.startedAt}`,
        begun.startedAt,
        produce,
      );
    } catch (error) {
      // The request's own error is the answer; a key that cannot be freed (its store is down)
      // stays leased until LEASE_MS, and a retry meanwhile is a 409 "in flight". Only a command
      // that may have been sent keeps the key's start time for its retries (and so their
      // deadline): this attempt's, unconfirmed, or an earlier one's (the key was started
      // before: a retry refused now, overloaded say, must not forget it). After any other
      // failure of a first attempt nothing was sent, and a retry is a new request.
      const keepStart =
        error instanceof CommandUnconfirmedError ||
        error instanceof OrderUnconfirmedError ||
        begun.resumed;
      await this.settle(() => this.options.idempotency.release(scoped, begun.token, { keepStart }));
      throw error;
    }
    // The answer stands whether or not the store keeps it: a command may have been sent.
    if (produced.storable && !produced.sentNothing && produced.status < 400)
      await this.settle(() =>
        this.options.idempotency.complete(
          scoped,
          begun.token,
          { status: produced.status, ...(produced.body !== undefined && { body: produced.body }) },
          this.ttlMs,
        ),
      );
    // Not kept: a refusal or a JSON-RPC answer that sent nothing (freed as after a thrown
    // refusal), or a JSON-RPC answer with a transient error in it (a call may have been sent
    // unconfirmed: its start time is kept for the retry).
    else
      await this.settle(() =>
        this.options.idempotency.release(scoped, begun.token, {
          keepStart: produced.sentNothing ? begun.resumed : produced.status < 400,
        }),
      );
    return { ...produced, replayed: false };
  }

  /**
   * Abandons the begin of `token` in the background until the store answers (backing off to
   * 5 s, for at most LEASE_MS: by then the lease lapsed and a retry could start the key).
   */
  private abandonLater(key: string, token: string): void {
    const giveUpAt = Date.now() + LEASE_MS;
    const attempt = (delayMs: number) => {
      setTimeout(() => {
        this.options.idempotency.abandon(key, token).catch((error: unknown) => {
          if (Date.now() + delayMs < giveUpAt) attempt(Math.min(5_000, delayMs * 2));
          else
            this.logger.warn(
              `Idempotency-Key attempt not undone: ${(error as Error)?.message}; ` +
                `its key is held until its lease lapses`,
            );
        });
      }, delayMs).unref();
    };
    attempt(100);
  }

  /** Records the outcome of a key; a failure is logged, never the request's answer. */
  private async settle(record: () => Promise<unknown>): Promise<void> {
    try {
      await record();
    } catch (error) {
      this.logger.warn(`Idempotency-Key outcome not recorded: ${(error as Error)?.message}`);
    }
  }
}
