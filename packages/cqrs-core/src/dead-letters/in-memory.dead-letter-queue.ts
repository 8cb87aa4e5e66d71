import { type Publisher } from '../transport/transport.port';
import {
  computeStats,
  DeadLetterCursorError,
  matchesFilter,
  replayLetters,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type DeadLetterStats,
  type NewDeadLetter,
  type ReplayResult,
  withTypeNames,
} from './dead-letter-queue.port';
import { type MessageSerializer } from '../messages/serializer.port';

export interface InMemoryDeadLetterQueueOptions {
  /** The registry: a `type` filter then also matches the type's former names. */
  serializer?: MessageSerializer;
}

/** The number of a letter id `dl-<n>`. @throws DeadLetterCursorError for anything else */
function sequenceOf(id: string): number {
  const match = /^dl-([1-9][0-9]{0,15})$/.exec(id);
  if (!match) throw new DeadLetterCursorError(id, 'dl-<number>');
  return Number(match[1]);
}

/** Dead letters in process memory (embedded mode, tests). Ids `dl-<n>`, listed in add order. */
export class InMemoryDeadLetterQueue implements DeadLetterQueue {
  private readonly letters: DeadLetter[] = [];
  private seq = 0;

  constructor(private readonly options: InMemoryDeadLetterQueueOptions = {}) {}

  async add(letter: NewDeadLetter): Promise<string> {
    const id = `dl-${++this.seq}`;
    this.letters.push({ ...letter, id });
    return id;
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
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
    return replayLetters(await this.list(filter), publisher, async (letter) => this.remove(letter));
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const doomed = await this.list(filter);
    for (const letter of doomed) this.remove(letter);
    return doomed.length;
  }

  /** A letter another replay or purge removed meanwhile is gone already: leave the rest alone. */
  private remove(letter: DeadLetter): void {
    const index = this.letters.indexOf(letter);
    if (index >= 0) this.letters.splice(index, 1);
  }
}
