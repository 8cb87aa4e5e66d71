import { MissingUpcasterError, UnsupportedSchemaVersionError } from './upcaster.errors';

/**
 * Lifts data of one type from schema version `n` to `n + 1` (S2-8). Pure: no I/O, no clock,
 * the same input gives the same output, so replays stay reproducible. Receives the data as
 * parsed from storage (not validated: it is an old shape) and the envelope's metadata.
 */
export type Upcaster = (data: unknown, metadata: Readonly<Record<string, unknown>>) => unknown;

/**
 * Upcasters per message type and from-version, applied in order (v1 -> v2 -> v3) when old data
 * is read, so handlers only ever see the current version.
 *
 * Hazard: an upcaster is part of the event's history contract. Never change what an upcaster
 * already in production returns; add a new schema version with its own upcaster instead.
 */
export class UpcasterChain {
  private readonly upcasters = new Map<string, Map<number, Upcaster>>();

  /**
   * Registers the upcaster from `fromVersion` to `fromVersion + 1` of `type`.
   * @throws Error when one is already registered for that step (two would be ambiguous)
   */
  register(type: string, fromVersion: number, upcaster: Upcaster): this {
    if (!Number.isInteger(fromVersion) || fromVersion < 1) {
      throw new RangeError(`Upcaster from-version must be an integer >= 1, got ${fromVersion}`);
    }
    let steps = this.upcasters.get(type);
    if (!steps) {
      steps = new Map();
      this.upcasters.set(type, steps);
    }
    if (steps.has(fromVersion)) {
      throw new Error(
        `An upcaster for ${type} v${fromVersion} -> v${fromVersion + 1} is already registered`,
      );
    }
    steps.set(fromVersion, upcaster);
    return this;
  }

  /** Every registered step, as [type, fromVersion]. */
  *steps(): IterableIterator<[string, number]> {
    for (const [type, steps] of this.upcasters) for (const from of steps.keys()) yield [type, from];
  }

  /**
   * Lifts `data` from `fromVersion` to `toVersion`, one step at a time.
   * @throws MissingUpcasterError naming the missing step before running any upcaster
   * @throws UnsupportedSchemaVersionError when `fromVersion > toVersion`
   */
  upcast(
    type: string,
    data: unknown,
    fromVersion: number,
    toVersion: number,
    metadata: Readonly<Record<string, unknown>> = {},
  ): unknown {
    if (fromVersion > toVersion)
      throw new UnsupportedSchemaVersionError(type, fromVersion, toVersion);
    this.assertComplete(type, fromVersion, toVersion);
    let current = data;
    for (let version = fromVersion; version < toVersion; version++) {
      // assertComplete guarantees the step exists.
      const step = this.upcasters.get(type)?.get(version) as Upcaster;
      current = step(current, metadata);
    }
    return current;
  }

  /**
   * Verifies that every step from `fromVersion` to `toVersion` is registered. Call it at
   * start-up for each type so a gap fails the deploy rather than the first old message.
   * @throws MissingUpcasterError naming the first missing step
   */
  assertComplete(type: string, fromVersion: number, toVersion: number): void {
    const steps = this.upcasters.get(type);
    for (let version = fromVersion; version < toVersion; version++) {
      if (!steps?.has(version))
        throw new MissingUpcasterError(type, fromVersion, toVersion, version);
    }
  }
}
