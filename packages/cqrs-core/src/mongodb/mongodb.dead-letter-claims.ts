import { type Connection, type Model, Schema } from 'mongoose';
import { type ReplayClaims } from '../dead-letters/dead-letter-queue.port';

/**
 * A replay's claim on a letter: `_id` `<letter id>#<generation>`, inserted only (a unique
 * `_id` is FerretDB's one atomic write, ADR 006). Its holder alone ends it early (`until` set to
 * the epoch); a claim is never reused, and a letter's claims go with it.
 */
interface ClaimDocument {
  _id: string;
  token: string;
  until: Date;
}

const schema = new Schema<ClaimDocument>(
  {
    _id: { type: String, required: true },
    token: { type: String, required: true },
    until: { type: Date, required: true },
  },
  { autoIndex: false, autoCreate: false, versionKey: false, strict: 'throw' },
);

const DUPLICATE_KEY = 11000;
const NAMESPACE_EXISTS = 48;
/** Generations sort as text: fixed width. */
const GENERATION_DIGITS = 9;

/**
 * The claims of a MongoDeadLetterQueue's replays, in `<collection>_claims`. Claiming reads a
 * letter's newest claim: when live, the letter is another replay's; otherwise the claim of the
 * next generation is inserted, which only one of racing replays manages. Taking over an
 * expired claim needs no update of it, so it is as safe on FerretDB as on MongoDB.
 */
export class MongoDeadLetterClaims {
  private readonly model: Model<ClaimDocument>;

  constructor(connection: Connection, collection: string) {
    const name = `${collection}_claims`;
    const modelName = `CausewayDeadLetterClaim:${name}`;
    this.model =
      (connection.models[modelName] as Model<ClaimDocument> | undefined) ??
      connection.model<ClaimDocument>(modelName, schema, name);
  }

  /** Creates the collection if missing (idempotent). */
  async init(): Promise<void> {
    try {
      await this.model.createCollection();
    } catch (error) {
      if ((error as { code?: number }).code !== NAMESPACE_EXISTS) throw error;
    }
  }

  /**
   * A replay's claims under its `token`: `exists` says whether a letter is still there,
   * `removeLetter` deletes it (true when this call did).
   */
  forReplay(
    token: string,
    leaseMs: number,
    exists: (id: string) => Promise<boolean>,
    removeLetter: (id: string) => Promise<boolean>,
  ): ReplayClaims {
    const held = new Map<string, string>();
    const end = async (id: string) => {
      const claim = held.get(id);
      held.delete(id);
      if (claim) await this.model.updateOne({ _id: claim }, { $set: { until: new Date(0) } });
    };
    return {
      claim: async ({ id }) => {
        const newest = await this.model
          .findOne({ _id: rangeOf(id) }, { _id: 1, until: 1 })
          .sort({ _id: -1 })
          .lean();
        const now = Date.now();
        if (newest && newest.until.getTime() > now) return false;
        const generation = newest ? Number(newest._id.slice(id.length + 1)) + 1 : 1;
        const claim = `${id}#${String(generation).padStart(GENERATION_DIGITS, '0')}`;
        try {
          await this.model.create({ _id: claim, token, until: new Date(now + leaseMs) });
        } catch (error) {
          if ((error as { code?: number }).code === DUPLICATE_KEY) return false;
          throw error;
        }
        held.set(id, claim);
        if (await exists(id)) return true;
        await end(id); // replayed or purged since it was read
        return false;
      },
      release: async ({ id }) => end(id),
      remove: async ({ id }) => {
        const removed = await removeLetter(id);
        held.delete(id);
        await this.model.deleteMany({ _id: rangeOf(id) });
        return removed;
      },
    };
  }

  /** Deletes the claims of letters that are gone (purged ones, or a replayer's crash). */
  async sweep(exist: (ids: string[]) => Promise<Set<string>>): Promise<void> {
    const claims = await this.model.find({}, { _id: 1 }).lean();
    if (claims.length === 0) return;
    const letterOf = (claim: string) => claim.slice(0, claim.lastIndexOf('#'));
    const letters = [...new Set(claims.map((claim) => letterOf(claim._id)))];
    const present = await exist(letters);
    const orphans = claims.filter((claim) => !present.has(letterOf(claim._id)));
    if (orphans.length > 0)
      await this.model.deleteMany({ _id: { $in: orphans.map((claim) => claim._id) } });
  }
}

/** Every claim `_id` of a letter: `<id>#…` (`$` sorts right after `#`). */
function rangeOf(id: string): { $gt: string; $lt: string } {
  return { $gt: `${id}#`, $lt: `${id}$` };
}
