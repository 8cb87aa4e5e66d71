import { checkCheckpointName, checkCheckpointPosition } from './checkpoint-store.rules';

/**
 * Durable positions of readers of the global log (forwarders, projections).
 *
 * Contract: `save` is durable when it resolves and never moves a checkpoint backwards — a
 * slower concurrent writer of the same name cannot undo a newer position. A name is a
 * non-empty string and a position a non-negative safe integer: anything else is refused before
 * the store reads or writes anything, with a TypeError (or a RangeError for a number out of
 * range) naming the argument (`checkCheckpointName`, `checkCheckpointPosition`, called by every
 * store).
 */
export interface CheckpointStore {
  /**
   * The last saved position of `name`; 0 when there is none. A stored value that is not a
   * position (a hand edit) is refused, naming where it lies and the value (`checkStoredPosition`),
   * never returned as NaN or a string.
   */
  load(name: string): Promise<number>;
  save(name: string, position: number): Promise<void>;
  /**
   * Moves the checkpoint of `name` back to 0 (for a rebuild): `load` returns 0 until the next
   * `save`. Only while no reader of that name runs: a save in flight may land after it.
   */
  reset(name: string): Promise<void>;
}

/** Checkpoints in process memory (embedded mode, tests). */
export class InMemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, number>();

  async load(name: string): Promise<number> {
    checkCheckpointName(name);
    return this.positions.get(name) ?? 0;
  }

  async save(name: string, position: number): Promise<void> {
    checkCheckpointName(name);
    checkCheckpointPosition(position);
    this.positions.set(name, Math.max(position, this.positions.get(name) ?? 0));
  }

  async reset(name: string): Promise<void> {
    checkCheckpointName(name);
    this.positions.delete(name);
  }
}
