/** What a snapshot policy knows when the repository asks it after a successful save. */
export interface SnapshotPolicyContext {
  readonly streamId: string;
  /** Stream version after the save. */
  readonly version: number;
  /** Version of the snapshot the aggregate was loaded from; 0 when there was none (or it was outdated). */
  readonly snapshotVersion: number;
  /** When that snapshot was taken; undefined when there was none. */
  readonly snapshotTakenAt: Date | undefined;
  /** How many events this save appended. */
  readonly appendedEvents: number;
  readonly now: Date;
}

/** Decides whether to take a snapshot after a save (S2-4). Pure and cheap: it runs on every save. */
export type SnapshotPolicy = (context: SnapshotPolicyContext) => boolean;

/**
 * Snapshot once at least `n` events were appended since the last snapshot (or since the start
 * of the stream). Counts versions, so a save of several events is handled correctly.
 */
function everyEvents(n: number): SnapshotPolicy {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`everyEvents needs an integer >= 1, got ${n}`);
  return (context) => context.version - context.snapshotVersion >= n;
}

/**
 * Snapshot when the last snapshot is at least `ms` old. A stream without a snapshot counts as
 * infinitely old: combine with `everyEvents` (allOf) to avoid snapshotting tiny streams.
 */
function olderThan(ms: number): SnapshotPolicy {
  if (!(ms >= 0)) throw new RangeError(`olderThan needs ms >= 0, got ${ms}`);
  return (context) => {
    if (context.snapshotTakenAt === undefined) return true;
    const age = context.now.getTime() - context.snapshotTakenAt.getTime();
    // A snapshot "from the future" (the clock stepped back, or another host's ran ahead) is
    // taken as due: waiting for the clock to catch up could stop snapshots for good.
    return age < 0 || age >= ms;
  };
}

/** A custom policy: any predicate over the context. Exists for readability at call sites. */
function snapshotWhen(predicate: (context: SnapshotPolicyContext) => boolean): SnapshotPolicy {
  return predicate;
}

/** Snapshot when any of the policies says so. */
function anyOf(...policies: SnapshotPolicy[]): SnapshotPolicy {
  return (context) => policies.some((policy) => policy(context));
}

/** Snapshot when all of the policies say so (an empty list always does). */
function allOf(...policies: SnapshotPolicy[]): SnapshotPolicy {
  return (context) => policies.every((policy) => policy(context));
}

function not(policy: SnapshotPolicy): SnapshotPolicy {
  return (context) => !policy(context);
}

/**
 * Snapshot policies and combinators, e.g.
 * `SnapshotPolicies.anyOf(SnapshotPolicies.everyEvents(100), SnapshotPolicies.allOf(SnapshotPolicies.everyEvents(10), SnapshotPolicies.olderThan(60_000)))`.
 */
export const SnapshotPolicies = {
  everyEvents,
  olderThan,
  when: snapshotWhen,
  anyOf,
  allOf,
  not,
  always: (() => true) as SnapshotPolicy,
  never: (() => false) as SnapshotPolicy,
} as const;
