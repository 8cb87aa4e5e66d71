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
