import { type RevocationListener, type TokenRevocations } from './token-revocations.port';

/**
 * Revocations of one process (the embedded mode, tests). Instances made with the same `shared`
 * map see each other's revocations at once, as instances of one deployment would.
 */
export class InMemoryTokenRevocations implements TokenRevocations {
  ready = false;
  /** One entry per onRevoked call (the same function given twice is told twice). */
  private readonly listeners = new Set<RevocationListener>();

  constructor(
    private readonly shared = new Map<string, number>(),
    /** The instances sharing `shared`, each told of a cut any of them makes. */
    private readonly peers = new Set<InMemoryTokenRevocations>(),
    /** How long a cut is kept (see TokenRevocations). Default for ever. */
    private readonly keepMs = Infinity,
  ) {
    peers.add(this);
  }

  async revoke(userId: string, at = Date.now(), reason?: string): Promise<void> {
    // The cuts that refuse nothing any more go as new ones come: the map holds the last keepMs.
    const horizon = Date.now() - this.keepMs;
    for (const [user, cut] of this.shared) if (cut < horizon) this.shared.delete(user);
    const before = this.shared.get(userId);
    if (before !== undefined && before >= at) return;
    this.shared.set(userId, at);
    for (const peer of this.peers)
      for (const listener of peer.listeners) listener(userId, at, reason);
  }

  onRevoked(listener: RevocationListener): () => void {
    const entry: RevocationListener = (userId, cut, reason) => listener(userId, cut, reason);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  revokedUntil(userId: string): number | undefined {
    const cut = this.shared.get(userId);
    return cut !== undefined && cut >= Date.now() - this.keepMs ? cut : undefined;
  }

  async start(): Promise<void> {
    this.ready = true;
  }

  async close(): Promise<void> {}
}
