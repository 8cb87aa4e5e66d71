import { type Connection, type Model, Schema } from 'mongoose';
import { ensureIndexes } from '@causeway/cqrs-core/mongodb';
import { type GroupMembers } from './group-members.port';
import { ignoreExists, isDuplicateKey } from './mongodb.trainer-positions';
import { checkMembershipChange } from './read-models.rules';

interface MembershipDocument {
  _id: string;
  trainerId: string;
  groupId: string;
  member: boolean;
  version: number;
}

export interface MongoGroupMembersOptions {
  /** Collection name. Default 'group_members'. */
  collection?: string;
}

/**
 * GroupMembers in MongoDB (and FerretDB 1.24), insert-only like MongoTrainerPositions: each
 * applied change of a (trainer, group) pair is a document `<trainerId>|<groupId>|<version>`
 * (a leave is kept as `member: false` so older changes stay refused), reads take each pair's
 * highest version, and lower versions of the pair are pruned after each insert (and by an apply
 * refused as not newer that finds some a failed prune left).
 *
 * Call `init()` once at start: it creates the indexes.
 */
export class MongoGroupMembers implements GroupMembers {
  private readonly model: Model<MembershipDocument>;

  constructor(connection: Connection, options: MongoGroupMembersOptions = {}) {
    const collection = options.collection ?? 'group_members';
    const schema = new Schema<MembershipDocument>(
      {
        _id: { type: String, required: true },
        trainerId: { type: String, required: true },
        groupId: { type: String, required: true },
        member: { type: Boolean, required: true },
        version: { type: Number, required: true },
      },
      { versionKey: false, collection, autoIndex: false },
    );
    this.model =
      (connection.models[collection] as Model<MembershipDocument> | undefined) ??
      connection.model<MembershipDocument>(collection, schema);
  }

  /** Creates the collection's indexes (idempotent). */
  async init(): Promise<void> {
    await this.model.createCollection().catch(ignoreExists);
    await ensureIndexes(this.model.db.db!.collection(this.model.collection.collectionName), [
      {
        name: 'trainerId_1_groupId_1_version_-1',
        keys: { trainerId: 1, groupId: 1, version: -1 },
        unique: true,
      },
      { name: 'groupId_1', keys: { groupId: 1 } },
    ]);
  }

  async apply(change: {
    trainerId: string;
    groupId: string;
    action: 'join' | 'leave';
    version: number;
  }): Promise<boolean> {
    checkMembershipChange(change);
    const { trainerId, groupId, version } = change;
    // Two: a lower version beside the highest is one a failed prune left (see
    // MongoTrainerPositions.apply); the retry, refused as not newer, prunes it.
    const [current, lower] = await this.model
      .find({ trainerId, groupId })
      .sort({ version: -1 })
      .limit(2)
      .lean();
    if (current && current.version >= version) {
      if (lower)
        await this.model.deleteMany({ trainerId, groupId, version: { $lt: current.version } });
      return false;
    }
    try {
      await this.model.create({
        _id: `${trainerId}|${groupId}|${version}`,
        trainerId,
        groupId,
        member: change.action === 'join',
        version,
      });
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
    await this.model.deleteMany({ trainerId, groupId, version: { $lt: version } });
    return true;
  }

  async membersOf(groupId: string): Promise<string[]> {
    return latestMembers(await this.model.find({ groupId }).lean(), (doc) => doc.trainerId);
  }

  async groupsOf(trainerId: string): Promise<string[]> {
    return latestMembers(await this.model.find({ trainerId }).lean(), (doc) => doc.groupId);
  }
}

/** The keys whose highest-version document says "member", sorted. */
function latestMembers(
  docs: readonly MembershipDocument[],
  key: (doc: MembershipDocument) => string,
): string[] {
  const latest = new Map<string, MembershipDocument>();
  for (const doc of docs) {
    const seen = latest.get(key(doc));
    if (!seen || seen.version < doc.version) latest.set(key(doc), doc);
  }
  return [...latest]
    .filter(([, doc]) => doc.member)
    .map(([id]) => id)
    .sort();
}
