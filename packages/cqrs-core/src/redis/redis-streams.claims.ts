import type Redis from 'ioredis';
import {
  type HeldEntry,
  type PartitionState,
  rawEntries,
  toHeldEntry,
} from './redis-streams.partition';

const PAGE = 100;

/**
 * Takes over the pending entries of a partition's streams that were left by its previous owner
 * (or by this consumer before it lost track of them), with XAUTOCLAIM: only entries idle for at
 * least `part.claimMinIdleMs`; claiming bumps their delivery count, which becomes `attempt`.
 * Adopted entries join the partition in id order, ahead of anything read later.
 *
 * Resolves `true` once every entry pending in the group for these streams is held here — only
 * then may new entries be read, or a key's older message could run after a newer one.
 */
export async function adoptPending(
  client: Redis,
  part: PartitionState,
  group: string,
  consumer: string,
): Promise<boolean> {
  let complete = true;
  for (const lane of part.laneList) {
    const stream = part.streams[lane];
    let cursor = '0-0';
    do {
      const reply = (await client.call(
        'XAUTOCLAIM',
        stream,
        group,
        consumer,
        part.claimMinIdleMs,
        cursor,
        'COUNT',
        PAGE,
      )) as [string, unknown, unknown?];
      cursor = String(reply[0]);
      const claimed = rawEntries(reply[1]).filter(([id]) => !part.holds(stream, id));
      if (claimed.length > 0) {
        const counts = await deliveryCounts(
          client,
          stream,
          group,
          consumer,
          claimed[0]![0],
          claimed.at(-1)![0],
        );
        for (const raw of claimed)
          part.add(toHeldEntry(stream, lane, raw, counts.get(raw[0]) ?? 2));
      }
    } while (cursor !== '0-0');
    const summary = (await client.call('XPENDING', stream, group)) as [
      number | string,
      ...unknown[],
    ];
    if (Number(summary[0]) > part.heldIn(lane)) complete = false;
  }
  return complete;
}

/**
 * Claims a failed entry back to this consumer before running it again, so that Redis counts the
 * delivery (XPENDING shows the real attempt) and its idle time restarts. False when the entry is
 * not pending any more (acknowledged elsewhere, trimmed by MAXLEN, or claimed by another
 * consumer after our lease lapsed): it must not run.
 */
export async function claimForRedelivery(
  client: Redis,
  entry: HeldEntry,
  group: string,
  consumer: string,
): Promise<boolean> {
  const reply = await client.call('XCLAIM', entry.stream, group, consumer, 0, entry.id);
  return rawEntries(reply).some(([id]) => id === entry.id);
}

async function deliveryCounts(
  client: Redis,
  stream: string,
  group: string,
  consumer: string,
  first: string,
  last: string,
): Promise<Map<string, number>> {
  const reply = (await client.call(
    'XPENDING',
    stream,
    group,
    first,
    last,
    PAGE * 10,
    consumer,
  )) as unknown[];
  const counts = new Map<string, number>();
  for (const row of reply) {
    if (Array.isArray(row) && typeof row[0] === 'string') counts.set(row[0], Number(row[3]));
  }
  return counts;
}
