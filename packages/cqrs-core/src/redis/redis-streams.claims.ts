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
 * A previous owner that handed the partition over cleanly lowered the counts of the entries it
 * held and never started (HAND_OVER), so those come here with the attempt they had. Entries
 * left by a crashed owner, or lost in a read reply of ours, count one delivery more.
 * Adopted entries join the partition in id order, ahead of anything read later.
 *
 * `complete` once every entry pending in the group for these streams is held here — only then
 * may new entries be read, or a key's older message could run after a newer one; `adopted`:
 * how many entries this call took over.
 */
export async function adoptPending(
  client: Redis,
  part: PartitionState,
  group: string,
  consumer: string,
): Promise<{ complete: boolean; adopted: number }> {
  let complete = true;
  let adopted = 0;
  if (part.readLost) {
    await giveBackLostReads(client, part, group, consumer);
    part.readLost = false;
  }
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
        adopted += claimed.length;
      }
    } while (cursor !== '0-0');
    const summary = (await client.call('XPENDING', stream, group)) as [
      number | string,
      ...unknown[],
    ];
    if (Number(summary[0]) > part.heldIn(lane)) complete = false;
  }
  return { complete, adopted };
}

/**
 * Before adopting our own entries after a read whose reply may have been lost (the reader's
 * connection dropped): an entry pending at this consumer, not held here, and delivered once
 * was delivered by that lost read — the partition was active here, so every other pending
 * entry of it is held — and no handler saw it; its delivery count goes back to 0
 * (XCLAIM … RETRYCOUNT 0 JUSTID), so that the claim that adopts it counts one delivery, not
 * two. Idempotent (only counts of 1 change), so a retry after a lost reply changes nothing more.
 */
async function giveBackLostReads(
  client: Redis,
  part: PartitionState,
  group: string,
  consumer: string,
): Promise<void> {
  for (const stream of part.streamList) {
    const rows = (await client.call(
      'XPENDING',
      stream,
      group,
      '-',
      '+',
      PAGE * 10,
      consumer,
    )) as unknown[];
    const lost: string[] = [];
    for (const row of rows) {
      if (!Array.isArray(row) || typeof row[0] !== 'string') continue;
      if (Number(row[3]) === 1 && !part.holds(stream, row[0])) lost.push(row[0]);
    }
    if (lost.length > 0) {
      await client.call('XCLAIM', stream, group, consumer, 0, ...lost, 'RETRYCOUNT', 0, 'JUSTID');
    }
  }
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
