import { RedisScript } from '@causeway/cqrs-core/redis';
import type Redis from 'ioredis';
import { type GroupMembers } from './group-members.port';
import { checkMembershipChange } from './read-models.rules';

// KEYS[1] = the trainer's versions hash, KEYS[2] = the group's members set, KEYS[3] = the
// trainer's groups set; ARGV[1] = trainerId, ARGV[2] = groupId, ARGV[3] = version,
// ARGV[4] = 'join' | 'leave'. → 1 when the change was applied, 0 when its version is not greater.
// The hash holds `<version>:<action>` (an earlier release's `<version>` alone reads as no
// action). The same change again (a replay) writes both sets again, so they agree with the hash
// after a partial loss took one of them (a review, session 36).
const APPLY = new RedisScript(`
local stored = redis.call('HGET', KEYS[1], ARGV[2])
local replayed = false
if stored then
  local version, action = string.match(stored, '^(%d+):?(%a*)$')
  if tonumber(version) > tonumber(ARGV[3]) then return 0 end
  if tonumber(version) == tonumber(ARGV[3]) then
    if action ~= ARGV[4] then return 0 end
    replayed = true
  end
end
if not replayed then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. ':' .. ARGV[4]) end
if ARGV[4] == 'join' then
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[2])
else
  redis.call('SREM', KEYS[2], ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[2])
end
if replayed then return 0 end
return 1`);

export interface RedisGroupMembersOptions {
  /** The app's shared client. */
  client: Redis;
  /** Prefix of every key (TOPIC_PREFIX + ':' in the apps, a test namespace in tests). */
  keyPrefix?: string;
}

/**
 * GroupMembers in Redis. Keys, under `<prefix>read-models:`:
 * - `group-versions:<trainerId>`: hash groupId → `<version>:<action>` of the last change applied
 *   for the pair, a join or a leave (a leave keeps its version, so an older join stays refused);
 * - `group-members:<groupId>`: set of the group's trainers (`membersOf` is one SMEMBERS);
 * - `trainer-groups:<trainerId>`: set of the trainer's groups (`groupsOf` is one SMEMBERS).
 *
 * `apply` is one Lua script that compares the pair's version and updates the hash and both sets
 * together: several projection-worker instances apply concurrently, and with separate commands
 * an older change could win the race or the two sets could disagree.
 *
 * Redis is the only copy: when it loses these keys it must lose the projection checkpoint with
 * them, so the worker rebuilds from the event store. A rebuild also repairs sets lost while the
 * versions hash survived (a partial loss, then the checkpoint deleted by hand): the replay of a
 * pair's last change (its stored version and action) writes both sets again.
 */
export class RedisGroupMembers implements GroupMembers {
  private readonly client: Redis;
  private readonly prefix: string;

  constructor(options: RedisGroupMembersOptions) {
    this.client = options.client;
    this.prefix = `${options.keyPrefix ?? ''}read-models:`;
  }

  async apply(change: {
    trainerId: string;
    groupId: string;
    action: 'join' | 'leave';
    version: number;
  }): Promise<boolean> {
    checkMembershipChange(change);
    const { trainerId, groupId, action, version } = change;
    const applied = await APPLY.run(
      this.client,
      [
        `${this.prefix}group-versions:${trainerId}`,
        `${this.prefix}group-members:${groupId}`,
        `${this.prefix}trainer-groups:${trainerId}`,
      ],
      [trainerId, groupId, version, action],
    );
    return applied === 1;
  }

  async membersOf(groupId: string): Promise<string[]> {
    return (await this.client.smembers(`${this.prefix}group-members:${groupId}`)).sort();
  }

  async groupsOf(trainerId: string): Promise<string[]> {
    return (await this.client.smembers(`${this.prefix}trainer-groups:${trainerId}`)).sort();
  }
}
