/** A document written does not match its collection's schema; nothing was written. */
export class DocumentValidationError extends Error {
  constructor(
    readonly collection: string,
    readonly id: string,
    /** Dotted path of the first offending field, e.g. `address.city`; '' for the whole document. */
    readonly field: string,
    readonly problem: string,
  ) {
    super(`Invalid document ${collection}/${id}: ${field || '(document)'} ${problem}`);
    this.name = 'DocumentValidationError';
  }
}

/**
 * A document's stream has an update (or a mapper's event) whose document is not there: its
 * `Created` event (and everything up to it) was removed — retention or truncation past the
 * latest snapshot, or with no snapshot at all — so folding what is left would answer a partial
 * document; or every event of it was removed, which would answer no document for one that may
 * exist. Keep a snapshot (SnapshotPolicies) before applying retention to document streams.
 */
export class DocumentHistoryError extends Error {
  readonly streamId: string;
  /** The version of the first event left (0 when none is). */
  readonly version: number;

  constructor(
    event:
      | { readonly type: string; readonly metadata?: Readonly<Record<string, unknown>> }
      | { readonly streamId: string; readonly removedUpTo: number },
  ) {
    if ('removedUpTo' in event) {
      super(
        `Document stream ${event.streamId} cannot be read: its events up to version ` +
          `${event.removedUpTo} were removed and no snapshot holds the document; ` +
          `keep snapshots of document streams before any retention`,
      );
      this.name = 'DocumentHistoryError';
      this.streamId = event.streamId;
      this.version = 0;
      return;
    }
    const streamId = String(event.metadata?.streamId ?? '?');
    const version = Number(event.metadata?.version ?? 0);
    super(
      `Document stream ${streamId} cannot be read: its ${event.type} at version ${version} ` +
        `belongs to a document that is not there (the events that created it were removed); ` +
        `keep snapshots of document streams before any retention`,
    );
    this.name = 'DocumentHistoryError';
    this.streamId = streamId;
    this.version = version;
  }
}
