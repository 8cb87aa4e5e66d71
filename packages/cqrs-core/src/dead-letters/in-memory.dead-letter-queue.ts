import { type Publisher } from '../transport/transport.port';
import {
  computeStats,
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

/** Dead letters in process memory (embedded mode, tests). */
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
    return this.letters
      .filter((letter) => matchesFilter(letter, wanted))
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
