/** `ProjectionRunner.waitFor` gave up: a projection had not reached the position in time. */
export class ProjectionWaitTimeoutError extends Error {
  constructor(
    readonly projection: string,
    /** The position waited for. */
    readonly position: number,
    /** Where the projection was when the wait ended. */
    readonly reached: number,
    readonly timeoutMs: number,
    /** Why it is stuck, when it is: the failure it retries. */
    failing?: string,
  ) {
    super(
      `projection ${projection} had not reached position ${position} within ${timeoutMs} ms ` +
        `(it is at ${reached}${failing ? `; it fails: ${failing}` : ''})`,
    );
    this.name = 'ProjectionWaitTimeoutError';
  }
}
