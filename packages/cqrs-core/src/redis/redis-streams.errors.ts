/** A publisher or subscriber was used after close() (or kill()). */
export class TransportClosedError extends Error {
  constructor(readonly component: string) {
    super(`${component} is closed`);
    this.name = 'TransportClosedError';
  }
}
