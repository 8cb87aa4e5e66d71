import { type Publisher } from '../transport/transport.port';
import { randomUUID } from 'node:crypto';
import {
  claimLeaseOf,
  computeStats,
  DeadLetterCursorError,
  matchesFilter,
  replayLetters,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type DeadLetterStats,
  type NewDeadLetter,
  type ReplayClaims,
  type ReplayResult,
  withTypeNames,
} from './dead-letter-queue.port';
import { type MessageSerializer } from '../messages/serializer.port';
import { checkDeadLetterFilter, checkNewDeadLetter } from './dead-letter-queue.rules';

export interface InMemoryDeadLetterQueueOptions {
  /**
   * The registry: a `type` filter then also matches the type's former names, and a replay
   * upcasts letters written at an older schema version of their type (upcastLetterEnvelope).
   * Pass it: without it, letters of an older release cannot be replayed once their type's
   * version was bumped (a publisher's registry refuses their data as current).
   */
  serializer?: MessageSerializer;
  /**
   * How long a replay's claim on a letter lasts (ms) unless the letter is removed or given back
   * first. Default DEFAULT_CLAIM_LEASE_MS.
   * @throws TypeError (constructor) when given and not a positive integer
   */
  claimLeaseMs?: number;
}

/** The number of a letter id `dl-<n>`. @throws DeadLetterCursorError for anything else */
function sequenceOf(id: string): number {
  const match = /^dl-([1-9][0-9]{0,15})$/.exec(id);
  if (!match) throw new DeadLetterCursorError(id, 'dl-<number>');
  return Number(match[1]);
}

/**
 * Dead letters in process memory (embedded mode, tests). Ids `dl-<n>`, listed in add order.
 * Replay claims are a map of letter id to the claiming replay's token and lease end.
 */
export class InMemoryDeadLetterQueue implements DeadLetterQueue {
  private readonly letters: DeadLetter[] = [];
  private readonly claims = new Map<string, { token: string; until: number }>();
  private readonly claimLeaseMs: number;
  private seq = 0;

  constructor(private readonly options: InMemoryDeadLetterQueueOptions = {}) {
    this.claimLeaseMs = claimLeaseOf('InMemoryDeadLetterQueue', options.claimLeaseMs);
  }

  async add(letter: NewDeadLetter): Promise<string> {
    checkNewDeadLetter(letter);
    const id = `dl-${++this.seq}`;
    this.letters.push({ ...letter, id });
    return id;
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    checkDeadLetterFilter(filter);
    const wanted = withTypeNames(filter, this.options.serializer);
    const after = filter.after === undefined ? 0 : sequenceOf(filter.after);
    return this.letters
      .filter((letter) => sequenceOf(letter.id) > after && matchesFilter(letter, wanted))
      .slice(0, filter.limit ?? Infinity);
  }

  async stats(): Promise<DeadLetterStats> {
    return computeStats(this.letters);
  }

  async replay(filter: DeadLetterFilter, publisher: Publisher): Promise<ReplayResult> {
    checkDeadLetterFilter(filter); // list's default ({}) must not stand for a missing filter
    return replayLetters(
      await this.list(filter),
      publisher,
      this.claimsFor(randomUUID()),
      this.options.serializer,
    );
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    checkDeadLetterFilter(filter); // list's default ({}) must not stand for a missing filter
    const doomed = await this.list(filter);
    for (const letter of doomed) this.remove(letter);
    return doomed.length;
  }

  /** A replay's claims, under its `token`. */
  private claimsFor(token: string): ReplayClaims {
    return {
      claim: async (letter) => {
        const held = this.claims.get(letter.id);
        if (!this.letters.includes(letter)) return false;
        if (held && held.token !== token && held.until > Date.now()) return false;
        this.claims.set(letter.id, { token, until: Date.now() + this.claimLeaseMs });
        return true;
      },
      release: async (letter) => {
        if (this.claims.get(letter.id)?.token === token) this.claims.delete(letter.id);
      },
      remove: async (letter) => this.remove(letter),
    };
  }

  /**
   * Removes a letter and its claim: false when another replay or purge removed it meanwhile
   * (it is gone already: leave the rest alone).
   */
  private remove(letter: DeadLetter): boolean {
    const index = this.letters.indexOf(letter);
    if (index < 0) return false;
    this.letters.splice(index, 1);
    this.claims.delete(letter.id);
    return true;
  }
}
