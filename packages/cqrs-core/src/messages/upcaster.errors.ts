/**
 * Data of `type` was written at `fromVersion` and no upcaster lifts it one version further:
 * the chain from `fromVersion` to the current version has a gap at `missingFrom`.
 */
export class MissingUpcasterError extends Error {
  constructor(
    readonly type: string,
    readonly fromVersion: number,
    readonly toVersion: number,
    readonly missingFrom: number,
  ) {
    super(
      `Cannot upcast ${type} from schema version ${fromVersion} to ${toVersion}: ` +
        `no upcaster registered for ${type} v${missingFrom} -> v${missingFrom + 1}`,
    );
    this.name = 'MissingUpcasterError';
  }
}

/**
 * Data of `type` was written by a newer schema version than this process knows (typically
 * during a rolling deploy, by an instance of the next release). It cannot be downcast; the
 * message must be retried by an up-to-date instance or dead-lettered.
 */
export class UnsupportedSchemaVersionError extends Error {
  constructor(
    readonly type: string,
    readonly schemaVersion: number,
    readonly currentVersion: number,
  ) {
    super(
      `${type} has schema version ${schemaVersion}, newer than the current version ${currentVersion} known here`,
    );
    this.name = 'UnsupportedSchemaVersionError';
  }
}
