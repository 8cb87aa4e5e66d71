import { type TokenRevocations } from './token-revocations.port';

/**
 * Revocations of one process (the embedded mode, tests). Instances made with the same `shared`
 * map see each other's revocations at once, as instances of one deployment would.
 */
export class InMemoryTokenRevocations implements TokenRevocations {
  ready = false;

  constructor(private readonly shared = new Map<string, number>()) {}

  async revoke(userId: string, at = Date.now()): Promise<void> {
    this.shared.set(userId, Math.max(at, this.shared.get(userId) ?? -Infinity));
  }

  revokedUntil(userId: string): number | undefined {
    return this.shared.get(userId);
  }

  async start(): Promise<void> {
    this.ready = true;
  }

  async close(): Promise<void> {}
}
