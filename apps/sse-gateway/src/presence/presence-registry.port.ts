/** One open SSE connection as presence sees it. */
export interface PresenceEntry {
  connectionId: string;
  userId: string;
  /** Epoch ms. */
  connectedAt: number;
  /**
   * The trainers besides the user's own that the connection's token lets it move (`trainers`
   * claim), when there are any: the user is present in those trainers' groups too.
   */
  trainerIds?: string[];
}

/** The connections of one live gateway instance. */
export interface InstancePresence {
  serverId: string;
  connections: PresenceEntry[];
}

/** What `replace` tells (see PresenceRegistry). */
export interface ReplacedPresence {
  dropped: PresenceEntry[];
  swept: PresenceEntry[];
}

/** How long a sweep is remembered for the instance to learn of it at its `replace`. */
export const SWEPT_MEMORY_MS = 600_000;

/**
 * Who is connected to which gateway instance (S0-8), shared by every instance.
 *
 * Contract (proved by `describePresenceRegistry` against every implementation):
 * - `add` / `remove` record one connection of an instance; removing an unknown one is harmless.
 *   `add` makes the instance one that `sweep` visits, as `heartbeat` does (without keeping it
 *   alive): an instance killed before its first heartbeat leaves no entry that is never swept.
 *   `remove` returns true when a `sweep` returned that connection since the instance's last
 *   `replace` (it was reported closed, `instance-expired`, and is not to be reported closed
 *   again), and forgets that: the sweep's record no longer holds it.
 * - `heartbeat(serverId)` keeps the instance alive for the registry's TTL; it returns false when
 *   the instance was not alive before the call (first beat, or it expired and its entries were
 *   dropped), so the instance knows to `add` its connections again.
 * - `list()` returns the connections of instances whose heartbeat has not expired, sorted by
 *   serverId then connectedAt; entries of an expired instance are never returned.
 * - `sweep()` deletes the entries of every instance whose heartbeat expired (a killed gateway)
 *   and returns them; each is returned once, to one caller, however many sweep at the same time
 *   (the one that reports those connections closed).
 * - `replace(serverId, entries)` makes `entries` the instance's connections, all at once, and
 *   keeps it alive as `heartbeat` does; it returns as `dropped` the connections it held before
 *   that are not among `entries` (a predecessor's under the same serverId, one whose `remove`
 *   failed), each once, for the caller to report closed; and as `swept` those of `entries` that
 *   a `sweep` returned since the instance's last `replace` (it paused past the TTL and another
 *   instance, or itself, reported them closed), each once, for the caller to report open again.
 *   Every sweep since the last `replace` counts, not only the latest. A sweep is remembered for
 *   SWEPT_MEMORY_MS at least; `heartbeat` dropping the entries of an
 *   expired instance is no sweep (nobody reported them).
 * - `removeInstance` forgets an instance and its connections at once (graceful shutdown).
 */
export interface PresenceRegistry {
  add(serverId: string, entry: PresenceEntry): Promise<void>;
  remove(serverId: string, connectionId: string): Promise<boolean>;
  heartbeat(serverId: string): Promise<boolean>;
  replace(serverId: string, entries: PresenceEntry[]): Promise<ReplacedPresence>;
  removeInstance(serverId: string): Promise<void>;
  list(): Promise<InstancePresence[]>;
  sweep(): Promise<InstancePresence[]>;
  /** How long an instance stays alive after its last heartbeat. */
  readonly ttlMs: number;
}

/** The TTL of a registry's `options`, 15 s by default; refused, naming it, unless whole ms >= 1. */
export function ttlOf(options: { ttlMs?: number }): number {
  const { ttlMs = 15_000 } = options;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
    throw new RangeError(
      `presence registry: options.ttlMs must be whole milliseconds, at least 1, got ${JSON.stringify(ttlMs)}`,
    );
  return ttlMs;
}

export function sortPresence(instances: InstancePresence[]): InstancePresence[] {
  for (const instance of instances)
    instance.connections.sort(
      (a, b) => a.connectedAt - b.connectedAt || a.connectionId.localeCompare(b.connectionId),
    );
  return instances.sort((a, b) => a.serverId.localeCompare(b.serverId));
}
