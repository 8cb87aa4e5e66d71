import { RedisScript } from '@causeway/cqrs-core/redis';
import { type CommandStatus } from '@causeway/contracts';
import type Redis from 'ioredis';
import { type CommandStatusStore, FAILED_REASON_PREFIX } from './command-status.port';

// KEYS[1] = status key, ARGV[1] = outcome JSON (without acceptedAt), ARGV[2] = retention ms.
// Read and write in one script so that two instances completing the same command (a redelivery)
// cannot both win; the accepted time and deadline of an existing entry are kept.
const COMPLETE = new RedisScript(`
local current = redis.call('GET', KEYS[1])
local outcome = cjson.decode(ARGV[1])
if current then
  local status = cjson.decode(current)
  -- A dead letter's failure gives way to 'processed' (a replay applied it); else first wins.
  local prefix = '${FAILED_REASON_PREFIX}'
  local failed = status.status == 'rejected' and type(status.reason) == 'string'
    and string.sub(status.reason, 1, #prefix) == prefix
  if status.status ~= 'accepted' and not (failed and outcome.status == 'processed') then return 0 end
  outcome.acceptedAt = status.acceptedAt
  outcome.deadline = status.deadline
else
  outcome.acceptedAt = outcome.completedAt
end
redis.call('SET', KEYS[1], cjson.encode(outcome), 'PX', ARGV[2])
return 1`);

export interface RedisCommandStatusStoreOptions {
  /** Prepended to every key, e.g. the TOPIC_PREFIX of the deployment plus ':'. Default ''. */
  keyPrefix?: string;
  /** How long a status is kept after its last write (COMMAND_STATUS_RETENTION_S). Default 24 h. */
  retentionMs?: number;
}

/**
 * Command statuses shared by every instance: one JSON string per command id
 * (`<prefix>command-status:<id>`) with a TTL of the retention. `accepted` is a SET NX, so it
 * never hides an outcome; `complete` is a script, so the first outcome wins atomically (or `processed` over a failure).
 */
export class RedisCommandStatusStore implements CommandStatusStore {
  private readonly keyPrefix: string;
  private readonly retentionMs: number;

  constructor(
    private readonly redis: Redis,
    options: RedisCommandStatusStoreOptions = {},
  ) {
    this.keyPrefix = `${options.keyPrefix ?? ''}command-status:`;
    this.retentionMs = options.retentionMs ?? 86_400_000;
  }

  async accepted(status: {
    commandId: string;
    type: string;
    issuerId: string;
    acceptedAt: string;
    deadline?: string;
  }): Promise<void> {
    const value: CommandStatus = {
      commandId: status.commandId,
      type: status.type,
      issuerId: status.issuerId,
      status: 'accepted',
      acceptedAt: status.acceptedAt,
      ...(status.deadline !== undefined && { deadline: status.deadline }),
    };
    await this.redis.set(
      this.key(status.commandId),
      JSON.stringify(value),
      'PX',
      this.retentionMs,
      'NX',
    );
  }

  async complete(outcome: Parameters<CommandStatusStore['complete']>[0]): Promise<void> {
    const value = {
      commandId: outcome.commandId,
      type: outcome.type,
      issuerId: outcome.issuerId,
      status: outcome.status,
      completedAt: outcome.completedAt,
      ...(outcome.reason !== undefined && { reason: outcome.reason }),
      ...(outcome.version !== undefined && { version: outcome.version }),
    };
    await COMPLETE.run(
      this.redis,
      [this.key(outcome.commandId)],
      [JSON.stringify(value), this.retentionMs],
    );
  }

  async get(commandId: string): Promise<CommandStatus | undefined> {
    const raw = await this.redis.get(this.key(commandId));
    if (raw === null) return undefined;
    const stored = JSON.parse(raw) as CommandStatus;
    // cjson has no notion of key order; present the fields in the contract's order.
    return {
      commandId: stored.commandId,
      type: stored.type,
      issuerId: stored.issuerId,
      status: stored.status,
      acceptedAt: stored.acceptedAt,
      ...(stored.deadline !== undefined && { deadline: stored.deadline }),
      ...(stored.completedAt !== undefined && { completedAt: stored.completedAt }),
      ...(stored.reason !== undefined && { reason: stored.reason }),
      ...(stored.version !== undefined && { version: stored.version }),
    };
  }

  private key(commandId: string): string {
    return this.keyPrefix + commandId;
  }
}
