import { type Projection, type StoredEvent } from '@causeway/cqrs-core';
import {
  AccountOpened,
  MoneyDeposited,
  MoneyWithdrawn,
} from '../01-basic-event-sourcing/account.events';

/** One row of the read model: what a "list accounts" query answers. */
export interface BalanceRow {
  readonly owner: string;
  readonly balance: number;
  /** The stream version applied last: an event at or below it was applied before. */
  readonly version: number;
}

/**
 * The account balances read model (a Map: a real service would keep it in a database table or
 * collection) and the projection that builds it from the event store's global log.
 */
export class BalancesReadModel {
  private readonly rows = new Map<string, BalanceRow>();

  /** Kept by ProjectionRunner: resumes from the checkpoint of this name. */
  readonly projection: Projection = {
    name: 'balances',
    types: [AccountOpened, MoneyDeposited, MoneyWithdrawn],
    apply: (event) => this.apply(event),
    reset: () => this.rows.clear(),
  };

  get(accountId: string): BalanceRow | undefined {
    return this.rows.get(accountId);
  }

  all(): [string, BalanceRow][] {
    return [...this.rows].sort(([a], [b]) => a.localeCompare(b));
  }

  /**
   * Idempotent: delivery is at least once (after a restart the events since the last saved
   * checkpoint come again), so an event at or below the row's version changes nothing.
   */
  private apply(event: StoredEvent): void {
    const row = this.rows.get(event.streamId) ?? { owner: '', balance: 0, version: 0 };
    if (event.version <= row.version) return;
    let next: BalanceRow = { ...row, version: event.version };
    if (AccountOpened.is(event)) next = { ...next, owner: event.data.owner };
    else if (MoneyDeposited.is(event)) next = { ...next, balance: row.balance + event.data.amount };
    else if (MoneyWithdrawn.is(event)) next = { ...next, balance: row.balance - event.data.amount };
    this.rows.set(event.streamId, next);
  }
}
