import { RedisScript } from './redis.script';
import type Redis from 'ioredis';
import { compareIds } from './redis-streams.partition';

/**
 * Trimming (`XADD MAXLEN ~`, see RedisStreamsPublisherOptions.maxLenPerStream) removes a
 * stream's oldest entries whether or not every consumer group has read them: a group that is
 * down, or lags by more than the stream's length, silently skips what was removed. Redis ≥ 7
 * counts what a stream ever received (`entries-added`) and what a group read (`entries-read`),
 * so the loss can be told: `entries-added − length` entries were removed, and when that is more
 * than the group read while its last delivered id is still before the first entry, the
 * difference was removed unread and the group's next read skips it.
 */

/** The type of the process warning `warnOfTrimming` emits. */
export const TRIM_WARNING = 'CausewayTrimWarning';

/**
 * Entries a consumer group lost to trimming: before it read them, or (`pendingIds`) after it
 * read them and before they were acknowledged.
 */
export interface TrimmedUnread {
  stream: string;
  group: string;
  /** How many; `undefined` when Redis cannot tell (a group made before Causeway counted). */
  count: number | undefined;
  /**
   * Absent: entries the group never read (told at subscribe; the group skips them). Set: the
   * ids of entries the group had read and never acknowledged — their consumer died, or their
   * handler failed and the partition moved before the retry — that trimming removed before
   * they could run again. Told when a consumer meets them (taking a dead consumer's entries
   * over, giving a partition up), not only at subscribe; Redis ≥ 7. `count` is their number.
   * A handler's failed message whose entry was trimmed while its subscription still holds it
   * is not lost: it runs again from the copy held.
   */
  pendingIds?: readonly string[];
}

/**
 * XGROUP CREATE … MKSTREAM with ENTRIESREAD, so that Redis counts from the start what the
 * group read: a group from '0' takes what trimming removed before it existed as read (it never
 * had them to lose), one from '$' everything so far. Redis < 7 has no ENTRIESREAD: the group
 * is then created without. KEYS: stream. ARGV: group, from ('0' | '$').
 * Returns 'OK' or 'BUSYGROUP' (the group exists and keeps its position).
 */
const CREATE_GROUP_SCRIPT = new RedisScript(`
local added = 0
local length = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = tonumber(info[i + 1]) end
    if info[i] == 'length' then length = tonumber(info[i + 1]) end
  end
end
local read = added - length
if ARGV[2] == '$' then read = added end
local reply = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM', 'ENTRIESREAD', read)
if type(reply) == 'table' and reply.err and not string.find(reply.err, 'BUSYGROUP', 1, true) then
  reply = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
end
if type(reply) == 'table' and reply.err then
  if string.find(reply.err, 'BUSYGROUP', 1, true) then return 'BUSYGROUP' end
  return redis.error_reply(reply.err)
end
return 'OK'
`);

/**
 * Creates `group` on `stream` (MKSTREAM) starting at `from`, unless it exists. From '0' or '$'
 * Redis counts what the group reads from the start (see CREATE_GROUP_SCRIPT); from another id
 * it cannot know how many entries came before that id, and creates the group without a count.
 */
export async function createGroup(
  command: Redis,
  stream: string,
  group: string,
  from: string,
): Promise<void> {
  if (from === '0' || from === '$') {
    await CREATE_GROUP_SCRIPT.run(command, [stream], [group, from]);
    return;
  }
  await command
    .call('XGROUP', 'CREATE', stream, group, from, 'MKSTREAM')
    .catch((error: unknown) => {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    });
}

/**
 * What trimming removed from `streams` before `group` read it and the group has not skipped
 * yet (its next read would). One pipelined round trip; streams or groups that do not exist,
 * and Redis < 7 (no counters), report nothing.
 */
export async function trimmedUnread(
  command: Redis,
  streams: readonly string[],
  group: string,
): Promise<TrimmedUnread[]> {
  const pipeline = command.pipeline();
  for (const stream of streams) {
    pipeline.call('XINFO', 'STREAM', stream);
    pipeline.call('XINFO', 'GROUPS', stream);
  }
  const replies = (await pipeline.exec()) ?? [];
  const found: TrimmedUnread[] = [];
  streams.forEach((stream, i) => {
    const [streamError, streamReply] = replies[2 * i] ?? [];
    const [groupsError, groupsReply] = replies[2 * i + 1] ?? [];
    if (streamError || groupsError) return;
    const info = pairs(streamReply);
    const mine = (groupsReply as unknown[]).map(pairs).find((g) => String(g.get('name')) === group);
    if (!mine) return;
    const count = unreadRemoved(info, mine);
    if (count !== 0) found.push({ stream, group, count });
  });
  return found;
}

/** Removed-before-read entries of one group, 0 when none, undefined when some but not how many. */
export function unreadRemoved(
  stream: ReadonlyMap<string, unknown>,
  group: ReadonlyMap<string, unknown>,
): number | undefined {
  const added = numberOf(stream.get('entries-added'));
  const length = numberOf(stream.get('length'));
  const first = firstIdOf(stream.get('first-entry'));
  const delivered = String(group.get('last-delivered-id') ?? '0-0');
  if (added === undefined || length === undefined || first === undefined) return 0;
  const removed = added - length;
  // The gap is behind the group (it read past it) or there is none.
  if (removed <= 0 || compareIds(delivered, first) >= 0) return 0;
  const read = numberOf(group.get('entries-read'));
  if (read !== undefined) return Math.max(0, removed - read);
  // No count: a group that read something and now sits before the first entry lost the
  // entries between; one that never read anything may have been made after they were removed.
  return delivered === '0-0' ? 0 : undefined;
}

/**
 * What a subscriber does when it finds a group that lost entries to trimming and was given no
 * `onTrimmed`: a process warning (`process.on('warning')`, printed to stderr by default).
 */
export function warnOfTrimming(loss: TrimmedUnread & { topic: string }): void {
  if (loss.pendingIds) {
    process.emitWarning(
      `${loss.pendingIds.length} entries of ${loss.topic} (stream ${loss.stream}) delivered to ` +
        `consumer group ${loss.group} and never acknowledged were trimmed before they ran again; ` +
        `they are lost (ids ${loss.pendingIds.slice(0, 10).join(', ')}` +
        `${loss.pendingIds.length > 10 ? ', …' : ''}). Raise maxLenPerStream ` +
        '(REDIS_STREAMS_MAX_LENGTH in the apps) above the backlog a stopped consumer must survive.',
      { type: TRIM_WARNING, code: 'CAUSEWAY_TRIMMED_PENDING' },
    );
    return;
  }
  process.emitWarning(
    `${loss.count ?? 'some'} entries of ${loss.topic} (stream ${loss.stream}) were trimmed ` +
      `before consumer group ${loss.group} read them; it skips them. Raise maxLenPerStream ` +
      '(REDIS_STREAMS_MAX_LENGTH in the apps) above the backlog a stopped consumer must survive.',
    { type: TRIM_WARNING, code: 'CAUSEWAY_TRIMMED' },
  );
}

/** A Redis reply of alternating names and values as a map. */
export function pairs(reply: unknown): Map<string, unknown> {
  const map = new Map<string, unknown>();
  if (!Array.isArray(reply)) return map;
  for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), reply[i + 1]);
  return map;
}

function numberOf(value: unknown): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function firstIdOf(entry: unknown): string | undefined {
  return Array.isArray(entry) && entry.length > 0 ? String(entry[0]) : undefined;
}
