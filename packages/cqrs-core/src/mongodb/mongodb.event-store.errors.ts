/** An append of more events than one commit can number (see POSITIONS_PER_SLOT). */
export class TooManyEventsError extends Error {
  constructor(
    readonly streamId: string,
    readonly count: number,
    readonly max: number,
  ) {
    super(`Cannot append ${count} events to ${streamId} at once; the maximum is ${max}`);
    this.name = 'TooManyEventsError';
  }
}
