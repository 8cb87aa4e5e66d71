import type Redis from 'ioredis';
import { keepTrimmed, keptEntries } from './redis-streams.kept';
import {
  type HeldEntry,
  type PartitionState,
  rawEntries,
  type RawStreamEntry,
  toHeldEntry,
} from './redis-streams.partition';

const PAGE = 100;

/** What one adoptPending call did. */
export interface Adoption {
  /**
   * Every entry pending in the group for these streams is held here — only then may new
   * entries be read, or a key's older message could run after a newer one.
   */
  complete: boolean;
  /** How many entries this call took over. */
  adopted: number;
  /**
   * Per stream, the ids of entries pending in the group (left by a dead consumer, say) that
   * trimming removed before this claim: Redis dropped them from the pending list (XAUTOCLAIM's
   * third reply element, Redis ≥ 7) and no one will ever deliver them. Held entries it met
   * removed are not in it: they still run from the copy held here (HeldEntry.trimmed), and a
   * copy of them is kept in Redis before this call returns (redis-streams.kept.ts).
   */
  trimmed: { stream: string; ids: string[] }[];
}

/**
 * Takes over the pending entries of a partition's streams that were left by its previous owner
 * (or by this consumer before it lost track of them), with XAUTOCLAIM: only entries idle for at
 * least `part.claimMinIdleMs`; claiming bumps their delivery count, which becomes `attempt`.
 * A previous owner that handed the partition over cleanly lowered the counts of the entries it
 * held and never started (HAND_OVER), so those come here with the attempt they had. Entries
 * left by a crashed owner, or lost in a read reply of ours, count one delivery more.
 * Adopted entries join the partition in id order, ahead of anything read later. So do the
 * copies kept in Redis of entries trimming removed while a consumer held them
 * (redis-streams.kept.ts): idle as long, they are adopted at their next attempt.
 *
 * Entries this consumer holds already (read ahead, waiting, running: a claim with min-idle 0
 * after a lost read meets them all) are claimed too, which bumps their delivery count although
 * no handler ran them again: their counts are set back to what they hold (XCLAIM … RETRYCOUNT
 * JUSTID, written with the next command of the adoption, no extra round trip), or a graceful
 * hand-over could not give their deliveries back and the next owner would count them twice.
 */
export async function adoptPending(
  client: Redis,
  part: PartitionState,
  group: string,
  consumer: string,
): Promise<Adoption> {
  let complete = true;
  let adopted = 0;
  const trimmed: Adoption['trimmed'] = [];
  if (part.readLost) {
    await giveBackLostReads(client, part, group, consumer);
    part.readLost = false;
  }
  const kept = await keptEntries(client, part, part.claimMinIdleMs);
  for (const entry of kept.entries) if (part.add(entry)) adopted++;
  if (kept.waiting > 0) complete = false;
  for (const lane of part.laneList) {
    const stream = part.streams[lane];
    const lost: string[] = [];
    const found: HeldEntry[] = [];
    let cursor = '0-0';
    let restoring: Promise<unknown> = Promise.resolve();
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
      const entries = rawEntries(reply[1]);
      restoring = restoreHeldCounts(client, part, stream, group, consumer, entries);
      const claimed = entries.filter(([id]) => !part.holds(stream, id));
      for (const id of deletedIds(reply[2])) {
        const held = part.find(stream, id);
        if (!held) lost.push(id);
        else if (!held.trimmed) {
          held.trimmed = true;
          found.push(held);
        }
      }
      if (claimed.length > 0) {
        const [counts] = await Promise.all([
          deliveryCounts(client, stream, group, consumer, claimed[0]![0], claimed.at(-1)![0]),
          restoring,
        ]);
        for (const raw of claimed)
          part.add(toHeldEntry(stream, lane, raw, counts.get(raw[0]) ?? 2));
        adopted += claimed.length;
        restoring = Promise.resolve();
      }
    } while (cursor !== '0-0');
    if (lost.length > 0) trimmed.push({ stream, ids: lost });
    // The last page's restores (if any) and the copies of held entries found trimmed (a crash
    // now must not lose them) go with the XPENDING below. A copy counts the delivery of an
    // entry that ran or runs; one read ahead and never started has not had its delivery yet.
    const [summary] = (await Promise.all([
      client.call('XPENDING', stream, group),
      restoring,
      keepTrimmed(client, part, found, (entry) =>
        entry.state === 'waiting' && !entry.needsClaim ? entry.attempt - 1 : entry.attempt,
      ),
    ])) as [[number | string, ...unknown[]], unknown, unknown];
    // Held entries trimmed away are not pending any more: they do not count here.
    if (Number(summary[0]) > part.pendingHeldIn(lane)) complete = false;
  }
  return { complete, adopted, trimmed };
}

/**
 * Sets the delivery counts of the entries among `claimed` that this consumer holds back to
 * what they were before the claim: `attempt` — or one more for an entry whose redelivery claim
 * is out, which raises its count and its attempt when it replies. One XCLAIM … RETRYCOUNT <n>
 * JUSTID per count (they are few), not awaited here: written with the caller's next command.
 * An entry acknowledged meanwhile is not pending any more, and XCLAIM leaves it so.
 */
function restoreHeldCounts(
  client: Redis,
  part: PartitionState,
  stream: string,
  group: string,
  consumer: string,
  claimed: readonly RawStreamEntry[],
): Promise<unknown> {
  const byCount = new Map<number, string[]>();
  for (const [id] of claimed) {
    const entry = part.find(stream, id);
    if (!entry) continue;
    const count = entry.attempt + (entry.state === 'running' && entry.needsClaim ? 1 : 0);
    const ids = byCount.get(count);
    if (ids) ids.push(id);
    else byCount.set(count, [id]);
  }
  if (byCount.size === 0) return Promise.resolve();
  return Promise.all(
    [...byCount].map(([count, ids]) =>
      client.call('XCLAIM', stream, group, consumer, 0, ...ids, 'RETRYCOUNT', count, 'JUSTID'),
    ),
  );
}

/** XAUTOCLAIM's third reply element (Redis ≥ 7): ids of pending entries no longer in the stream. */
function deletedIds(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
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
 * How a claim for redelivery ended: `claimed` — run it; `trimmed` — it was still pending, but
 * trimming removed it from the stream (Redis dropped it from the pending list on this claim):
 * nothing acknowledged it, so it runs from the copy held (kept in Redis first); `gone` — not pending any more
 * (acknowledged elsewhere after our lease lapsed, or the group was lost): it must not run.
 */
export type RedeliveryClaim = 'claimed' | 'trimmed' | 'gone';

/**
 * Claims a failed entry back to this consumer before running it again, so that Redis counts the
 * delivery (XPENDING shows the real attempt) and its idle time restarts. XPENDING of the id and
 * the XCLAIM go in one MULTI (one round trip, nothing in between): an entry pending before the
 * claim and not returned by it was trimmed — an empty XCLAIM alone cannot tell that from one
 * acknowledged elsewhere.
 */
export async function claimForRedelivery(
  client: Redis,
  entry: HeldEntry,
  group: string,
  consumer: string,
): Promise<RedeliveryClaim> {
  const replies = await client
    .multi()
    .call('XPENDING', entry.stream, group, entry.id, entry.id, 1)
    .call('XCLAIM', entry.stream, group, consumer, 0, entry.id)
    .exec();
  if (!replies) throw new Error(`claim of ${entry.stream} ${entry.id} was aborted`);
  for (const [error] of replies) if (error) throw error;
  const [[, pending], [, claimed]] = replies as [[null, unknown], [null, unknown]];
  if (rawEntries(claimed).some(([id]) => id === entry.id)) return 'claimed';
  return Array.isArray(pending) && pending.length > 0 ? 'trimmed' : 'gone';
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
